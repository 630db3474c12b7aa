//! Password authentication (SCRAM-SHA-256) against hashed secrets in the config.

use tarn_server::auth::Secret;
use tarn_tests::{TestServer, config_from_toml};
use tokio_postgres::error::SqlState;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_password_auth_accepts_the_right_password_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = tarn_tests::password_config(dir.path(), "alice", "correct horse");
    let server = TestServer::start_with(config).await;
    let base = format!("host=127.0.0.1 port={} dbname=tarn", server.addr.port());

    let (client, connection) = tokio_postgres::connect(
        &format!("{base} user=alice password='correct horse'"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("right password");
    tokio::spawn(connection);
    let one: i32 = client
        .query_one("select 1::int", &[])
        .await
        .expect("query")
        .get(0);
    assert_eq!(one, 1);

    let err = tokio_postgres::connect(
        &format!("{base} user=alice password=wrong"),
        tokio_postgres::NoTls,
    )
    .await
    .err()
    .expect("wrong password refused");
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{err:?}");

    let err = tokio_postgres::connect(
        &format!("{base} user=mallory password=x"),
        tokio_postgres::NoTls,
    )
    .await
    .err()
    .expect("unknown user refused");
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{err:?}");
}

/// The authentication request a server sends first, read off the wire: 3 cleartext,
/// 5 md5, 10 SASL (SCRAM), 0 ok (trust).
fn first_auth_request(port: u16, user: &str) -> i32 {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut body = Vec::new();
    body.extend_from_slice(&196_608_i32.to_be_bytes());
    for (k, v) in [("user", user), ("database", "tarn")] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let len = i32::try_from(body.len() + 4).expect("small");
    socket.write_all(&len.to_be_bytes()).expect("send");
    socket.write_all(&body).expect("send");
    let mut head = [0u8; 9];
    socket.read_exact(&mut head).expect("read");
    assert_eq!(
        head[0], b'R',
        "expected an Authentication message, got {head:?}"
    );
    i32::from_be_bytes([head[5], head[6], head[7], head[8]])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_md5_and_cleartext_chosen_per_user_and_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let qs = Secret::md5("quicksight", "qs pass").to_stored();
    let bob = Secret::hash("bob pass").to_stored();
    let alice = Secret::hash("alice pass").to_stored();
    let config = config_from_toml(
        dir.path(),
        &format!(
            r#"[server]
listen = "127.0.0.1:0"
[warehouse]
url = "{}"
[auth]
method = "password"
[[auth.users]]
name = "quicksight"
password = "{qs}"
[[auth.users]]
name = "bob"
password = "{bob}"
[[auth.users]]
name = "alice"
password = "{alice}"
[[auth.rules]]
user = "quicksight"
method = "md5"
[[auth.rules]]
user = "bob"
address = "127.0.0.0/8"
method = "password"
[[auth.rules]]
address = "10.0.0.0/8"
method = "password"
"#,
            dir.path().join("wh").display()
        ),
    );
    let server = TestServer::start_with(config).await;
    let port = server.addr.port();

    // What each user is asked for, on the wire: alice matches no rule (SCRAM).
    assert_eq!(first_auth_request(port, "quicksight"), 5);
    assert_eq!(first_auth_request(port, "bob"), 3);
    assert_eq!(first_auth_request(port, "alice"), 10);
    // An unknown user under an md5 rule is asked the same way, and fails the same way.
    assert_eq!(first_auth_request(port, "nobody"), 10);

    let base = format!("host=127.0.0.1 port={port} dbname=tarn");
    for (user, password) in [
        ("quicksight", "qs pass"),
        ("bob", "bob pass"),
        ("alice", "alice pass"),
    ] {
        let (client, connection) = tokio_postgres::connect(
            &format!("{base} user={user} password='{password}'"),
            tokio_postgres::NoTls,
        )
        .await
        .unwrap_or_else(|e| panic!("{user} with the right password: {e}"));
        tokio::spawn(connection);
        let who: String = client
            .query_one("select current_user", &[])
            .await
            .expect("query")
            .get(0);
        assert_eq!(who, user);

        let err = tokio_postgres::connect(
            &format!("{base} user={user} password='{password}x'"),
            tokio_postgres::NoTls,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("{user}: wrong password accepted"));
        assert_eq!(
            err.code(),
            Some(&SqlState::INVALID_PASSWORD),
            "{user}: {err:?}"
        );
        assert!(!err.to_string().contains(password), "{err}");
    }

    // libpq (psql) answers the md5 and cleartext requests too.
    for (user, password) in [("quicksight", "qs pass"), ("bob", "bob pass")] {
        let out = std::process::Command::new("psql")
            .args(["-X", "-At", "-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-U", user, "-d", "tarn", "-c", "select current_user"])
            .env("PGPASSWORD", password)
            .env("PGSSLMODE", "disable")
            .output()
            .expect("psql");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            user,
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A CA and a server certificate for `localhost` and 127.0.0.1, made by the openssl
/// command line (the test command installs it).
fn make_certificates(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl must be installed: the README's test command installs it");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=Tarn test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName = DNS:localhost, IP:127.0.0.1\n",
    )
    .expect("write");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
    ]);
}

fn psql_with(port: u16, conninfo: &str, sql: &str, password: &str) -> (bool, String, String) {
    let out = std::process::Command::new("psql")
        .args([
            "-X",
            "-At",
            &format!("host=localhost port={port} dbname=tarn {conninfo}"),
        ])
        .args(["-c", sql])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_tls_is_served_verified_and_required() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certificates(dir.path());
    let secret = Secret::hash("tls pass").to_stored();
    let md5 = Secret::md5("legacy", "old pass").to_stored();
    let config = config_from_toml(
        dir.path(),
        &format!(
            r#"[server]
listen = "127.0.0.1:0"
[server.tls]
cert = "{0}/server.crt"
key = "{0}/server.key"
[warehouse]
url = "{0}/wh"
[auth]
method = "password"
[[auth.users]]
name = "alice"
password = "{secret}"
[[auth.users]]
name = "legacy"
password = "{md5}"
[[auth.rules]]
user = "legacy"
method = "md5"
"#,
            dir.path().display()
        ),
    );
    let server = TestServer::start_with(config).await;
    let port = server.addr.port();
    let ca = dir.path().join("ca.crt");
    let verify = format!("sslmode=verify-full sslrootcert={}", ca.display());

    // The certificate verifies for localhost, and SCRAM works inside TLS
    // (libpq offers channel binding when it can).
    let (ok, out, err) = psql_with(
        port,
        &format!("user=alice {verify}"),
        "\\conninfo",
        "tls pass",
    );
    assert!(ok, "{err}");
    assert!(out.contains("SSL connection (protocol: TLSv1."), "{out}");
    let (ok, out, err) = psql_with(
        port,
        &format!("user=alice {verify} channel_binding=disable"),
        "select current_user",
        "tls pass",
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "alice");
    // md5 inside TLS.
    let (ok, out, err) = psql_with(
        port,
        &format!("user=legacy {verify}"),
        "select 1",
        "old pass",
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "1");

    // Required means required: no plaintext fallback, with a message saying why.
    let (ok, _, err) = psql_with(port, "user=alice sslmode=disable", "select 1", "tls pass");
    assert!(!ok);
    assert!(err.contains("requires TLS"), "{err}");
    // A client that verifies against another CA refuses the server.
    let other = tempfile::tempdir().expect("tempdir");
    make_certificates(other.path());
    let (ok, _, err) = psql_with(
        port,
        &format!(
            "user=alice sslmode=verify-full sslrootcert={}",
            other.path().join("ca.crt").display()
        ),
        "select 1",
        "tls pass",
    );
    assert!(!ok);
    assert!(err.contains("certificate verify failed"), "{err}");
}

#[test]
fn issue_5_bad_tls_files_fail_at_startup_without_showing_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    make_certificates(dir.path());
    std::fs::write(
        dir.path().join("bad.key"),
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    let path = dir.path().join("tarn.toml");
    for (cert, key, expect) in [
        ("missing.crt", "server.key", "server.tls.cert"),
        ("server.crt", "bad.key", "server.tls"),
        ("server.crt", "ca.key", "do not form a usable pair"),
    ] {
        std::fs::write(
            &path,
            format!(
                "[server.tls]\ncert = \"{0}/{cert}\"\nkey = \"{0}/{key}\"\n",
                dir.path().display()
            ),
        )
        .expect("write");
        let err = tarn_server::config::Config::load(
            &tarn_server::config::Overrides {
                config: Some(path.clone()),
                ..Default::default()
            },
            &[],
        )
        .expect_err("bad TLS files are a configuration error");
        let text = err.to_string();
        assert!(text.contains(expect), "{cert}/{key}: {text}");
        assert!(!text.contains("c2VjcmV0"), "{text}");
    }
}
