{{ config(materialized='view') }} select * from {{ ref('by_city') }} where total > 5
