{% snapshot orders_check %}
{{ config(target_schema='snapshots', unique_key='id', strategy='check', check_cols=['city', 'amount']) }}
select id, city, amount from {{ source('raw', 'orders') }}
{% endsnapshot %}
