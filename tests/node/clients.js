// node-postgres (pg) and pg-cursor against Tarn, as a Node service uses them:
// parameterized queries (extended protocol), types, a pool, a cursor read in batches,
// and a wrong password refused. Usage: node clients.js PORT [PASSWORD]
// Expects the data of tests/tests/it/clients.rs (shop.orders ids 1..2500 and the view
// shop.big_orders). Prints "ok <check>" per check; exits 1 naming a failed one.
'use strict';
const check = require('./check');
const { Client, Pool } = require('pg');
const Cursor = require('pg-cursor');

const port = Number(process.argv[2]);
const password = process.argv[3];
const config = { host: '127.0.0.1', port, user: 'tarn', database: 'tarn', password };


async function main() {
  const client = new Client(config);
  await client.connect();

  const tables = await client.query(
    "select table_name, table_type from information_schema.tables where table_schema = 'shop' order by table_name");
  check('tables', tables.rows, [
    { table_name: 'big_orders', table_type: 'VIEW' },
    { table_name: 'orders', table_type: 'BASE TABLE' },
  ]);

  const r = await client.query(
    'select id, customer, amount, placed, paid from shop.orders where id = $1', [4]);
  const row = r.rows[0];
  // pg returns bigint and numeric as strings, timestamps as Date (local time zone).
  check('row by parameter', [row.id, row.customer, row.amount, row.paid], ['4', 'c4', '5.00', true]);
  check('timestamp', row.placed instanceof Date, true);
  check('field types', r.fields.map((f) => f.dataTypeID), [20, 1043, 1700, 1114, 16]);

  const agg = await client.query(
    'select count(*), sum(amount) from shop.orders where customer = $1 and id <= $2', ['c3', 700]);
  let n = 0;
  let sum = 0;
  for (let id = 1; id <= 700; id++) if (id % 7 === 3) { n++; sum += id * 1.25; }
  check('aggregate with two parameters', [agg.rows[0].count, Number(agg.rows[0].sum)], [String(n), sum]);

  // pg-cursor: a portal read 100 rows at a time.
  const cursor = client.query(new Cursor('select id from shop.orders order by id'));
  let seen = 0;
  let total = 0;
  let batches = 0;
  for (;;) {
    const rows = await cursor.read(100);
    if (rows.length === 0) break;
    batches++;
    seen += rows.length;
    for (const x of rows) total += Number(x.id);
  }
  await cursor.close();
  check('pg-cursor batches', [seen, total, batches], [2500, (2500 * 2501) / 2, 25]);

  // Errors keep their SQLSTATE and the connection goes on.
  let code = null;
  try {
    await client.query('select * from shop.missing');
  } catch (e) {
    code = e.code;
  }
  check('undefined table', code, '42P01');
  check('usable after error', (await client.query('select 1 as one')).rows, [{ one: 1 }]);
  await client.end();

  const pool = new Pool({ ...config, max: 4 });
  const counts = await Promise.all(
    [1, 2, 3, 4, 5, 6, 7, 8].map((i) =>
      pool.query('select count(*) as n from shop.orders where id <= $1', [i * 100]).then((x) => x.rows[0].n)));
  check('pool', counts, ['100', '200', '300', '400', '500', '600', '700', '800']);
  await pool.end();

  if (password !== undefined) {
    const wrong = new Client({ ...config, password: password + 'x' });
    let refused = null;
    try {
      await wrong.connect();
    } catch (e) {
      refused = e.code;
    }
    check('wrong password refused', refused, '28P01');
  }
}

main().catch((e) => {
  console.log(`FAILED with ${e.stack}`);
  process.exit(1);
});
