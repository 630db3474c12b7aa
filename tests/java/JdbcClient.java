// pgjdbc (Debian's libpostgresql-jdbc-java, 42.5) against Tarn, as a BI tool uses it:
// DatabaseMetaData, prepared statements run past the server-prepare threshold,
// setFetchSize (portal batches), and Statement.cancel(). Run as a single-file
// program: java -cp postgresql.jar JdbcClient.java PORT [PASSWORD]
// Expects the data of tests/tests/it/clients.rs (shop.orders ids 1..2500 and the
// view shop.big_orders). Prints "ok <check>" per check; exits 1 naming a failed one.

import java.sql.*;
import java.util.*;

public class JdbcClient {
    static void check(boolean cond, String what) {
        if (!cond) {
            System.out.println("FAILED " + what);
            System.out.flush();
            System.exit(1);
        }
        System.out.println("ok " + what);
    }

    static List<String> column(ResultSet rs, String name) throws SQLException {
        List<String> out = new ArrayList<>();
        while (rs.next()) out.add(rs.getString(name));
        rs.close();
        return out;
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/tarn";
        Properties props = new Properties();
        props.setProperty("user", "tarn");
        if (args.length > 1) props.setProperty("password", args[1]);
        props.setProperty("ApplicationName", "jdbc-suite");
        try (Connection c = DriverManager.getConnection(url, props)) {
            DatabaseMetaData md = c.getMetaData();
            check(md.getDatabaseProductName().equals("PostgreSQL"), "product name");
            check(md.getDatabaseMajorVersion() == 15, "major version 15: " + md.getDatabaseProductVersion());

            List<String> catalogs = column(md.getCatalogs(), "TABLE_CAT");
            check(catalogs.contains("tarn"), "getCatalogs " + catalogs);

            List<String> schemas = column(md.getSchemas(), "TABLE_SCHEM");
            check(schemas.contains("shop") && schemas.contains("public"), "getSchemas " + schemas);

            List<String> tables = new ArrayList<>();
            ResultSet rs = md.getTables(null, "shop", "%", new String[] {"TABLE", "VIEW"});
            while (rs.next()) tables.add(rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE"));
            rs.close();
            Collections.sort(tables);
            check(tables.equals(List.of("big_orders:VIEW", "orders:TABLE")), "getTables " + tables);
            rs = md.getTables(null, "shop", "orders", new String[] {"TABLE"});
            check(rs.next() && "one row per order".equals(rs.getString("REMARKS")), "getTables REMARKS");
            rs.close();
            rs = md.getColumns(null, "shop", "orders", "amount");
            check(rs.next() && "in euros".equals(rs.getString("REMARKS")), "getColumns REMARKS");
            rs.close();

            List<String> cols = new ArrayList<>();
            rs = md.getColumns(null, "shop", "orders", "%");
            while (rs.next()) {
                cols.add(rs.getInt("ORDINAL_POSITION") + " " + rs.getString("COLUMN_NAME") + " "
                        + rs.getString("TYPE_NAME") + " " + rs.getInt("DATA_TYPE"));
            }
            rs.close();
            check(cols.equals(List.of(
                    "1 id int8 " + Types.BIGINT,
                    "2 customer varchar " + Types.VARCHAR,
                    "3 amount numeric " + Types.NUMERIC,
                    "4 placed timestamp " + Types.TIMESTAMP,
                    "5 paid bool " + Types.BIT)), "getColumns " + cols);

            rs = md.getColumns(null, "shop", "orders", "paid");
            check(rs.next() && "false".equals(rs.getString("COLUMN_DEF")), "getColumns COLUMN_DEF");
            rs.close();
            rs = md.getColumns(null, "shop", "orders", "amount");
            check(rs.next() && rs.getString("COLUMN_DEF") == null, "getColumns COLUMN_DEF (none)");
            rs.close();

            rs = md.getPrimaryKeys(null, "shop", "orders");
            check(!rs.next(), "getPrimaryKeys (none)");
            rs.close();
            rs = md.getImportedKeys(null, "shop", "orders");
            check(!rs.next(), "getImportedKeys (none)");
            rs.close();
            rs = md.getIndexInfo(null, "shop", "orders", false, true);
            check(!rs.next(), "getIndexInfo (none)");
            rs.close();
            List<String> types = column(md.getTypeInfo(), "TYPE_NAME");
            check(types.contains("int8") && types.contains("text") && types.contains("numeric"),
                    "getTypeInfo " + types.size() + " types");

            // Prepared statement, run past prepareThreshold (5) so pgjdbc switches to a
            // named server-side statement, with binary transfer of the results.
            try (PreparedStatement ps = c.prepareStatement(
                    "select count(*), sum(amount) from shop.orders where id <= ? and customer = ?")) {
                for (int i = 1; i <= 8; i++) {
                    ps.setLong(1, i * 100);
                    ps.setString(2, "c3");
                    try (ResultSet r = ps.executeQuery()) {
                        r.next();
                        long expected = 0;
                        java.math.BigDecimal sum = java.math.BigDecimal.ZERO;
                        for (long id = 1; id <= i * 100; id++) {
                            if (id % 7 == 3) {
                                expected++;
                                sum = sum.add(java.math.BigDecimal.valueOf(id).multiply(new java.math.BigDecimal("1.25")));
                            }
                        }
                        if (r.getLong(1) != expected || r.getBigDecimal(2).compareTo(sum) != 0) {
                            check(false, "prepared run " + i + ": " + r.getLong(1) + " " + r.getBigDecimal(2));
                        }
                    }
                }
                check(true, "prepared statement run 8 times (server-prepared after 5)");
            }

            // Types a BI tool reads back.
            try (Statement s = c.createStatement();
                 ResultSet r = s.executeQuery("select id, customer, amount, placed, paid from shop.orders where id = 4")) {
                r.next();
                check(r.getLong(1) == 4 && r.getString(2).equals("c4")
                        && r.getBigDecimal(3).compareTo(new java.math.BigDecimal("5.00")) == 0
                        && r.getTimestamp(4).toLocalDateTime().toString().equals("2024-01-01T00:04")
                        && r.getBoolean(5), "row values " + r.getString(4));
                ResultSetMetaData rsmd = r.getMetaData();
                check(rsmd.getColumnTypeName(1).equals("int8") && rsmd.getColumnTypeName(3).equals("numeric"),
                        "result metadata types");
            }

            // setFetchSize: needs autocommit off; rows arrive in portal batches.
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.setFetchSize(100);
                long n = 0, sum = 0;
                try (ResultSet r = s.executeQuery("select id from shop.orders order by id")) {
                    while (r.next()) {
                        n++;
                        sum += r.getLong(1);
                    }
                }
                check(n == 2500 && sum == 2500L * 2501 / 2, "setFetchSize(100) streams all rows");
            }
            c.commit();
            c.setAutoCommit(true);

            // Statement.cancel() from another thread stops a long query with 57014.
            try (Statement s = c.createStatement()) {
                Thread t = new Thread(() -> {
                    try {
                        Thread.sleep(500);
                        s.cancel();
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                });
                t.start();
                String state = null;
                try {
                    s.executeQuery("select count(*) from generate_series(1, 1000000000000) a");
                } catch (SQLException e) {
                    state = e.getSQLState();
                }
                t.join();
                check("57014".equals(state), "Statement.cancel() gives 57014, got " + state);
            }
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("select 1")) {
                r.next();
                check(r.getInt(1) == 1, "connection usable after cancel");
            }
        }
    }
}
