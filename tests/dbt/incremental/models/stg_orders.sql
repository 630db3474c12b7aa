{{ config(materialized='ephemeral') }}
select id, upper(city) as city, amount, updated_at
from {{ source('raw', 'orders') }}
where id is not null
