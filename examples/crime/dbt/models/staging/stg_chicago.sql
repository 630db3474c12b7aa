-- Chicago: "Date" is MM/dd/yyyy hh:mm:ss a, which the crawler already read as a timestamp.
select
    'chicago' as city,
    cast(id as varchar) as report_id,
    "date" as occurred_at,
    lower(trim(primary_type)) as raw_category,
    arrest as cleared
from {{ source('raw', 'chicago') }}
where id is not null
