select city, sum(amount) as total, count(*) as n from {{ ref('raw_orders') }} group by city
