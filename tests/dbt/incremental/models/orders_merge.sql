{{ config(materialized='incremental', unique_key='id', incremental_strategy='merge') }}
select id, city, amount, updated_at from {{ ref('stg_orders') }}
{% if is_incremental() %}
where updated_at > (select max(updated_at) from {{ this }})
{% endif %}
