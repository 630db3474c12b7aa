// postgres.js (npm `postgres`) against Tarn, as a Node service uses it: tagged-template
// queries (named prepared statements, reused), its type fetch at connect, types, a
// cursor read in batches, a transaction, a pool of connections, an error's SQLSTATE,
// and a wrong password refused. Usage: node postgres_js.js PORT [PASSWORD]
// Expects the data of tests/tests/it/clients.rs (shop.orders ids 1..2500 and the view
// shop.big_orders). Prints "ok <check>" per check; exits 1 naming a failed one.
'use strict';
const check = require('./check');
const postgres = require('postgres');

const port = Number(process.argv[2]);
const password = process.argv[3];
const config = { host: '127.0.0.1', port, user: 'tarn', database: 'tarn', password, max: 4 };


async function main() {
  const sql = postgres(config);

  const tables = await sql`
    select table_name, table_type from information_schema.tables
    where table_schema = ${'shop'} order by table_name`;
  check('tables', tables.map((t) => [t.table_name, t.table_type]), [
    ['big_orders', 'VIEW'],
    ['orders', 'BASE TABLE'],
  ]);

  // The same statement run more than once: postgres.js prepares it once, by name.
  for (const id of [4, 5, 4]) {
    const [row] = await sql`select id, customer, amount, placed, paid from shop.orders where id = ${id}`;
    // bigint and numeric come back as strings, timestamps as Date.
    check(`row ${id} by parameter`, [row.id, row.customer, row.amount, row.paid],
      [String(id), `c${id % 7}`, (id * 1.25).toFixed(2), id % 2 === 0]);
    check(`timestamp ${id}`, row.placed instanceof Date, true);
  }

  const [agg] = await sql`
    select count(*) as n, sum(amount) as total from shop.orders
    where customer = ${'c3'} and id <= ${700}`;
  let n = 0;
  let total = 0;
  for (let id = 1; id <= 700; id++) if (id % 7 === 3) { n++; total += id * 1.25; }
  check('aggregate with two parameters', [agg.n, Number(agg.total)], [String(n), total]);

  // A text array parameter and an array result (postgres.js reads arrays by the
  // element types it fetched at connect).
  const [arrays] = await sql`select ${sql.array(['a', 'b c'])}::text[] as t, array[1, 2] as i`;
  check('arrays', [arrays.t, arrays.i], [['a', 'b c'], [1, 2]]);

  // A cursor: a portal read 100 rows at a time (Execute with a row limit).
  let seen = 0;
  let sum = 0;
  let batches = 0;
  await sql`select id from shop.orders order by id`.cursor(100, (rows) => {
    batches++;
    seen += rows.length;
    for (const x of rows) sum += Number(x.id);
  });
  check('cursor batches', [seen, sum, batches], [2500, (2500 * 2501) / 2, 25]);

  const view = await sql`select count(*) as n from shop.big_orders`;
  check('view', view[0].n, '100');

  // A transaction block, on one connection of the pool.
  const inside = await sql.begin(async (tx) => {
    const [a] = await tx`select count(*) as n from shop.orders where id <= ${10}`;
    const [b] = await tx`select current_setting('transaction_isolation') as level`;
    return [a.n, b.level];
  });
  check('transaction', inside, ['10', 'read committed']);

  // Errors keep their SQLSTATE and the connection goes on.
  let code = null;
  try {
    await sql`select * from shop.missing`;
  } catch (e) {
    code = e.code;
  }
  check('undefined table', code, '42P01');
  check('usable after error', await sql`select 1 as one`, [{ one: 1 }]);

  const counts = await Promise.all(
    [1, 2, 3, 4, 5, 6, 7, 8].map((i) =>
      sql`select count(*) as n from shop.orders where id <= ${i * 100}`.then((x) => x[0].n)));
  check('pool', counts, ['100', '200', '300', '400', '500', '600', '700', '800']);
  await sql.end();

  if (password !== undefined) {
    const wrong = postgres({ ...config, password: password + 'x', max: 1 });
    let refused = null;
    try {
      await wrong`select 1`;
    } catch (e) {
      refused = e.code;
    }
    await wrong.end();
    check('wrong password refused', refused, '28P01');
  }
}

main().catch((e) => {
  console.log(`FAILED with ${e.stack}`);
  process.exit(1);
});
