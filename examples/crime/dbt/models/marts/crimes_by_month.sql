select
    cast(date_trunc('month', occurred_at) as date) as month,
    city,
    category,
    count(*) as reports
from {{ ref('stg_crimes') }}
group by 1, 2, 3
