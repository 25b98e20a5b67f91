//! Black-box protocol tests over raw TCP: inline commands, pipelining, protocol errors,
//! limits, RESP3.
// Tests may unwrap (team rule); clippy only exempts #[test] functions themselves.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::time::Duration;

/// Reads until the peer closes the connection (bounded by the socket's read timeout).
fn read_to_close(s: &mut std::net::TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return out,
            // Closing with unread input makes the kernel reset the connection.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "connection not closed by the server: {e}; got {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

#[test]
fn inline_commands() {
    let srv = common::Server::start();
    let mut s = srv.tcp();
    let want = b"+PONG\r\n$5\r\nhello\r\n$3\r\na b\r\n";
    let got = common::raw_exchange(
        &mut s,
        b"PING\r\nECHO hello\r\nECHO \"a b\"\r\n",
        want.len(),
    );
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

#[test]
fn pipeline_of_1000_commands_in_one_write() {
    let srv = common::Server::start();
    let mut s = srv.tcp();
    let mut req = Vec::new();
    let mut want = Vec::new();
    for i in 0..1000 {
        if i % 2 == 0 {
            req.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
            want.extend_from_slice(b"+PONG\r\n");
        } else {
            let arg = i.to_string();
            req.extend_from_slice(
                format!("*2\r\n$4\r\nECHO\r\n${}\r\n{arg}\r\n", arg.len()).as_bytes(),
            );
            want.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
    }
    let got = common::raw_exchange(&mut s, &req, want.len());
    assert_eq!(got.len(), want.len());
    assert!(got == want, "replies out of order or wrong");
}

#[test]
fn protocol_error_closes_only_that_connection() {
    let srv = common::Server::start();
    let mut other = srv.conn();
    let mut bad = srv.tcp();
    bad.write_all(b"*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n").unwrap();
    let got = read_to_close(&mut bad);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"
    );
    let pong: String = redis::cmd("PING").query(&mut other).unwrap();
    assert_eq!(pong, "PONG");
    let mut bad2 = srv.tcp();
    bad2.write_all(b"*2\r\n+PING\r\n").unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read_to_close(&mut bad2)),
        "-ERR Protocol error: expected '$', got '+'\r\n"
    );
}

#[test]
fn bulk_longer_than_proto_max_bulk_len_is_a_protocol_error() {
    let srv = common::Server::start_with(&["--proto-max-bulk-len", "10"]);
    let mut s = srv.tcp();
    s.write_all(b"*2\r\n$4\r\nECHO\r\n$11\r\n").unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read_to_close(&mut s)),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
}

#[test]
fn query_buffer_limit_closes_the_client() {
    let srv = common::Server::start_with(&["--query-buffer-max-bytes", "100000"]);
    let mut s = srv.tcp();
    // A bulk announced as 1 MB, sent in part: the unprocessed input passes the limit.
    s.write_all(b"*2\r\n$4\r\nECHO\r\n$1000000\r\n").unwrap();
    let chunk = vec![b'x'; 200_000];
    let _ = s.write_all(&chunk);
    let got = read_to_close(&mut s);
    assert!(
        got.is_empty(),
        "no reply expected, got {:?}",
        String::from_utf8_lossy(&got)
    );
    let mut con = srv.conn();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn hello_3_switches_to_resp3_shapes() {
    let srv = common::Server::start();
    let mut s = srv.tcp();
    s.write_all(b"HELLO 3\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    let hello = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(
        hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{hello}"
    );
    assert!(hello.contains("$5\r\nproto\r\n:3\r\n"), "{hello}");
    let want = b"%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n";
    let got = common::raw_exchange(&mut s, b"CONFIG GET maxclients\r\n", want.len());
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
    let got = common::raw_exchange(&mut s, b"HELLO 2\r\nCONFIG GET maxclients\r\n", 1);
    let mut text = String::from_utf8_lossy(&got).to_string();
    while !text.ends_with("$5\r\n10000\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(text.starts_with("*14\r\n"), "{text}");
    assert!(
        text.ends_with("*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"),
        "{text}"
    );
}

#[test]
fn hello_errors() {
    let srv = common::Server::start();
    let mut s = srv.tcp();
    let want = "-NOPROTO unsupported protocol version\r\n-ERR Protocol version is not an integer or out of range\r\n";
    let got = common::raw_exchange(&mut s, b"HELLO 4\r\nHELLO x\r\n", want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
}
