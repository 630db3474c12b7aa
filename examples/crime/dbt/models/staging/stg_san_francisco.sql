-- San Francisco: "Incident Datetime" is yyyy/MM/dd hh:mm:ss a text, categories come in
-- any case with stray spaces.
select
    'san_francisco' as city,
    incident_id as report_id,
    -- DataFusion's to_timestamp takes chrono's format codes (%I is hh, %p is AM/PM).
    cast(to_timestamp(incident_datetime, '%Y/%m/%d %I:%M:%S %p') as timestamp) as occurred_at,
    lower(trim(incident_category)) as raw_category,
    resolution like 'Cite or Arrest%' as cleared
from {{ source('raw', 'san_francisco') }}
where incident_id is not null
