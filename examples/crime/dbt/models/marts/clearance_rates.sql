select
    city,
    category,
    count(*) as reports,
    sum(case when cleared then 1 else 0 end) as cleared,
    round(100.0 * sum(case when cleared then 1 else 0 end) / count(*), 1) as clearance_pct
from {{ ref('stg_crimes') }}
group by city, category
