//! Black-box tests of client handling: maxclients, AUTH and NOAUTH, CLIENT, SELECT, QUIT.
// Tests may unwrap (team rule); clippy only exempts #[test] functions themselves.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use redis::{RedisResult, Value};

fn cmd(con: &mut redis::Connection, args: &[&str]) -> RedisResult<Value> {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
}

fn err_text(r: RedisResult<Value>) -> String {
    let e = r.expect_err("expected an error reply");
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
        .trim()
        .to_string()
}

fn ok(v: RedisResult<Value>) {
    assert_eq!(v.unwrap(), Value::Okay);
}

#[test]
fn maxclients_refuses_the_extra_client() {
    let srv = common::Server::start_with(&["--maxclients", "2"]);
    // The harness's readiness probe may still hold a slot for a moment: retry until it is gone.
    let connect = || {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let client =
                redis::Client::open(format!("redis://127.0.0.1:{}/", srv.redis_port)).unwrap();
            match client.get_connection() {
                Ok(con) => return con,
                Err(e) if Instant::now() < deadline => {
                    println!("retrying connect: {e}");
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("cannot connect: {e}"),
            }
        }
    };
    let mut a = connect();
    let mut b = connect();
    let mut c = srv.tcp();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR max number of clients reached\r\n"
    );
    ok(cmd(&mut a, &["SELECT", "0"]));
    ok(cmd(&mut b, &["SELECT", "0"]));
    drop(a);
    // The slot frees once the server sees the close; poll until a new client fits.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut s = srv.tcp();
        let got = common::raw_exchange(&mut s, b"PING\r\n", 7);
        if got == b"+PONG\r\n" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "slot never freed: {:?}",
            String::from_utf8_lossy(&got)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn requirepass_needs_auth() {
    let srv = common::Server::start_with(&["--requirepass", "s3cret"]);
    let mut s = srv.tcp();
    let want = "-NOAUTH Authentication required.\r\n\
                -WRONGPASS invalid username-password pair or user is disabled.\r\n\
                -WRONGPASS invalid username-password pair or user is disabled.\r\n\
                +OK\r\n+PONG\r\n+OK\r\n";
    let got = common::raw_exchange(
        &mut s,
        b"PING\r\nAUTH nope\r\nAUTH someone s3cret\r\nAUTH s3cret\r\nPING\r\nAUTH default s3cret\r\n",
        want.len(),
    );
    assert_eq!(String::from_utf8_lossy(&got), want);
    let mut h = srv.tcp();
    let got = common::raw_exchange(&mut h, b"HELLO 3\r\n", 10);
    assert!(
        String::from_utf8_lossy(&got).starts_with("-NOAUTH HELLO must be called"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    let got = common::raw_exchange(&mut h, b"HELLO 3 AUTH default s3cret\r\n", 4);
    assert!(
        got.starts_with(b"%7\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
}

/// RESET returns a connection to a new one's state: RESP2, no name, and unauthenticated
/// when a password is set.
#[test]
fn reset_restores_a_new_connections_state() {
    let srv = common::Server::start_with(&["--requirepass", "s3cret"]);
    let mut s = srv.tcp();
    let setup = b"AUTH s3cret\r\nHELLO 3\r\n";
    let got = common::raw_exchange(&mut s, setup, 8);
    assert!(
        got.starts_with(b"+OK\r\n%7"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    // Drain the rest of HELLO's map before the next exchange.
    let mut rest = [0u8; 4096];
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let _ = s.read(&mut rest);
    let want = "+OK\r\n$1\r\nn\r\n+RESET\r\n-NOAUTH Authentication required.\r\n\
                +OK\r\n$-1\r\n";
    let got = common::raw_exchange(
        &mut s,
        b"CLIENT SETNAME n\r\nCLIENT GETNAME\r\nRESET\r\nPING\r\nAUTH s3cret\r\nCLIENT GETNAME\r\n",
        want.len(),
    );
    // `$-1` is RESP2's null: the name is gone and the protocol is RESP2 again (RESP3 says `_`).
    assert_eq!(String::from_utf8_lossy(&got), want);
}

#[test]
fn auth_without_a_password_configured() {
    let srv = common::Server::start();
    let mut con = srv.conn();
    assert_eq!(
        err_text(cmd(&mut con, &["AUTH", "x"])),
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
    );
    ok(cmd(&mut con, &["AUTH", "default", "anything"]));
    assert_eq!(
        err_text(cmd(&mut con, &["AUTH", "bob", "x"])),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
}

#[test]
fn config_set_requirepass_applies_to_new_clients() {
    let srv = common::Server::start();
    let mut con = srv.conn();
    ok(cmd(&mut con, &["CONFIG", "SET", "requirepass", "pw"]));
    let mut s = srv.tcp();
    let got = common::raw_exchange(&mut s, b"PING\r\n", 10);
    assert!(got.starts_with(b"-NOAUTH"));
    // The connection that set it was authenticated when it connected.
    assert_eq!(
        cmd(&mut con, &["PING"]).unwrap(),
        Value::SimpleString("PONG".into())
    );
}

#[test]
fn client_commands() {
    let srv = common::Server::start();
    let mut con = srv.conn();
    assert_eq!(cmd(&mut con, &["CLIENT", "GETNAME"]).unwrap(), Value::Nil);
    ok(cmd(&mut con, &["CLIENT", "SETNAME", "worker-1"]));
    assert_eq!(
        cmd(&mut con, &["CLIENT", "GETNAME"]).unwrap(),
        Value::BulkString(b"worker-1".to_vec())
    );
    assert_eq!(
        err_text(cmd(&mut con, &["CLIENT", "SETNAME", "a b"])),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    let Value::Int(id) = cmd(&mut con, &["CLIENT", "ID"]).unwrap() else {
        panic!("CLIENT ID is an integer")
    };
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    assert!(
        list.contains(&format!("id={id} ")) && list.contains("name=worker-1"),
        "{list}"
    );
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
    assert!(
        info.starts_with(&format!("id={id} ")) && info.ends_with('\n'),
        "{info}"
    );
    assert_eq!(
        err_text(cmd(&mut con, &["CLIENT", "FOO"])),
        "ERR unknown subcommand 'FOO'. Try CLIENT HELP."
    );
    assert_eq!(
        err_text(cmd(&mut con, &["CLIENT", "SETNAME"])),
        "ERR wrong number of arguments for 'client|setname' command"
    );
}

#[test]
fn select_and_quit() {
    let srv = common::Server::start();
    let mut con = srv.conn();
    ok(cmd(&mut con, &["SELECT", "0"]));
    assert_eq!(
        err_text(cmd(&mut con, &["SELECT", "1"])),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err_text(cmd(&mut con, &["SELECT", "x"])),
        "ERR value is not an integer or out of range"
    );
    let mut s = srv.tcp();
    let got = common::raw_exchange(&mut s, b"QUIT\r\nPING\r\n", 100);
    assert_eq!(String::from_utf8_lossy(&got), "+OK\r\n");
}
