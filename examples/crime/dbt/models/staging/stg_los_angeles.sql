-- Los Angeles: the day is in DATE OCC (at midnight), the time of day in TIME OCC as
-- hhmm text ("0130"); a case is cleared when its status is an arrest.
select
    'los_angeles' as city,
    cast(dr_no as varchar) as report_id,
    date_occ + cast(
        substr(lpad(time_occ, 4, '0'), 1, 2) || ' hours '
        || substr(lpad(time_occ, 4, '0'), 3, 2) || ' minutes' as interval
    ) as occurred_at,
    lower(trim(crm_cd_desc)) as raw_category,
    status_desc like '%Arrest' as cleared
from {{ source('raw', 'los_angeles') }}
where dr_no is not null
