-- Dashboard-style queries over the marts (psql -f dashboard.sql).
\echo 'Reports by city'
select city, sum(reports) as reports from analytics.crimes_by_month group by city order by city;

\echo 'Top categories per city'
select city, category, reports
from (
    select city, category, sum(reports) as reports,
           rank() over (partition by city order by sum(reports) desc) as r
    from analytics.crimes_by_month group by city, category
) t
where r <= 3
order by city, reports desc;

\echo 'Monthly trend, all cities'
select month, sum(reports) as reports from analytics.crimes_by_month group by month order by month;

\echo 'Clearance rates'
select city, category, reports, cleared, clearance_pct
from analytics.clearance_rates order by city, clearance_pct desc;
