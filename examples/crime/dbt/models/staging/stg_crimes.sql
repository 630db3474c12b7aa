-- All cities in one shape: normalized categories, and each report once (exports are
-- re-sent, so the same report can arrive in two files).
{{ config(materialized='table') }}
with unioned as (
    select * from {{ ref('stg_chicago') }}
    union all
    select * from {{ ref('stg_los_angeles') }}
    union all
    select * from {{ ref('stg_san_francisco') }}
),
ranked as (
    select
        *,
        row_number() over (partition by city, report_id order by occurred_at) as copy
    from unioned
)
select
    r.city || '-' || r.report_id as crime_key,
    r.city,
    r.report_id,
    r.occurred_at,
    m.category,
    r.cleared
from ranked r
join {{ ref('category_map') }} m
  on m.city = r.city and m.raw_category = r.raw_category
where r.copy = 1
