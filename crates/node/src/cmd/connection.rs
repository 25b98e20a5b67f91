//! Connection commands, answered by the node with the session's state: PING, ECHO, HELLO,
//! AUTH, SELECT, QUIT, RESET, CLIENT.

use bytes::Bytes;
use resp::ProtocolVersion;
use storage::{ExecError, ExecResult, Output};

use super::{is_opt, CommandSpec, Flags};
use crate::errors;
use crate::session::{err, Session};

const fn local(name: &'static str, arity: i32, flags: Flags, summary: &'static str) -> CommandSpec {
    super::local_command("connection", name, arity, flags, summary)
}

/// The connection command table.
pub const COMMANDS: &[CommandSpec] = &[
    local(
        "ping",
        -1,
        Flags::FAST,
        "Returns the server's liveliness response.",
    ),
    local("echo", 2, Flags::FAST, "Returns the given string."),
    local(
        "hello",
        -1,
        Flags::NO_AUTH.with(Flags::FAST),
        "Handshakes with the Redis server.",
    ),
    local(
        "auth",
        -2,
        Flags::NO_AUTH.with(Flags::FAST),
        "Authenticates the connection.",
    ),
    local("select", 2, Flags::FAST, "Changes the selected database."),
    local(
        "quit",
        -1,
        Flags::NO_AUTH.with(Flags::FAST),
        "Closes the connection.",
    ),
    local(
        "reset",
        1,
        Flags::NO_AUTH.with(Flags::FAST),
        "Resets the connection.",
    ),
    local(
        "client",
        -2,
        Flags::NONE,
        "A container for client connection commands.",
    ),
];

/// The version `HELLO` and `INFO` report: the Redis version whose behaviour RedRaft follows.
pub const REDIS_VERSION: &str = "7.2.0";

/// Runs a connection command.
pub fn run(session: &mut Session, args: &[Bytes]) -> ExecResult {
    let name = args[0].to_ascii_lowercase();
    match name.as_slice() {
        b"ping" => ping(args),
        b"echo" => Ok(Output::Bulk(args[1].to_vec())),
        b"hello" => hello(session, args),
        b"auth" => auth(session, &args[1..]),
        b"select" => select(&args[1]),
        b"quit" => {
            session.quit = true;
            Ok(Output::Ok)
        }
        b"reset" => Ok(reset(session)),
        b"client" => client(session, args),
        _ => unreachable!(
            "connection::run called for {}",
            String::from_utf8_lossy(&name)
        ),
    }
}

fn ping(args: &[Bytes]) -> ExecResult {
    match args {
        [_] => Ok(Output::Status("PONG")),
        [_, message] => Ok(Output::Bulk(message.to_vec())),
        _ => err(&errors::wrong_arity("ping")),
    }
}

/// `RESET`: the connection's state as a new connection has it: RESP2, no name, read-write
/// (after `READONLY`), and not authenticated when a password is set. (Redis also leaves
/// MULTI, pub/sub and client tracking, which RedRaft does not have yet.)
fn reset(session: &mut Session) -> Output {
    session.set_protocol(ProtocolVersion::Resp2);
    session.info.name.lock().clear();
    session.readonly = false;
    session.authenticated = session.node.requirepass().is_none();
    Output::Status("RESET")
}

/// `AUTH [username] password`: only the `default` user exists.
fn auth(session: &mut Session, args: &[Bytes]) -> ExecResult {
    let required = session.node.requirepass();
    let (user, password): (&[u8], &Bytes) = match args {
        [_] if required.is_none() => return err(errors::AUTH_NOT_CONFIGURED),
        [password] => (&b"default"[..], password),
        [user, password] => (user.as_ref(), password),
        _ => return Err(ExecError::Syntax),
    };
    let ok = user == b"default"
        && required
            .as_ref()
            .is_none_or(|p| p.as_bytes() == password.as_ref());
    if ok {
        session.authenticated = true;
        Ok(Output::Ok)
    } else {
        err(errors::WRONGPASS)
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
fn hello(session: &mut Session, args: &[Bytes]) -> ExecResult {
    let mut version = session.protocol();
    if let Some(arg) = args.get(1) {
        let n = storage::number::parse_i64(arg)
            .ok_or_else(|| ExecError::Reply(errors::HELLO_PROTO_NOT_INTEGER.into()))?;
        version = ProtocolVersion::from_hello(n)
            .ok_or_else(|| ExecError::Reply(errors::NOPROTO.into()))?;
    }
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is_opt(&args[i], "auth") && more >= 2 {
            auth(session, &args[i + 1..i + 3])?;
            i += 3;
        } else if is_opt(&args[i], "setname") && more >= 1 {
            name = Some(args[i + 1].clone());
            i += 2;
        } else {
            return err(&format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            ));
        }
    }
    if !session.authenticated {
        return err(errors::HELLO_NOAUTH);
    }
    if let Some(name) = name {
        set_name(session, &name)?;
    }
    session.set_protocol(version);
    Ok(Output::Map(vec![
        (Output::bulk("server"), Output::bulk("redis")),
        (Output::bulk("version"), Output::bulk(REDIS_VERSION)),
        (Output::bulk("proto"), Output::Int(version.number())),
        (Output::bulk("id"), Output::Int(session.info.id as i64)),
        (Output::bulk("mode"), Output::bulk(hello_mode(session))),
        (Output::bulk("role"), Output::bulk("master")),
        (Output::bulk("modules"), Output::Array(Vec::new())),
    ]))
}

/// `SELECT index`: RedRaft has one database, 0.
fn select(index: &[u8]) -> ExecResult {
    match storage::number::parse_i64(index) {
        None => Err(ExecError::NotInteger),
        Some(0) => Ok(Output::Ok),
        Some(_) => err(errors::DB_INDEX_OUT_OF_RANGE),
    }
}

/// `CLIENT subcommand ...`.
fn client(session: &mut Session, args: &[Bytes]) -> ExecResult {
    let sub = args[1].to_ascii_lowercase();
    let argc = args.len();
    let arity_ok = match sub.as_slice() {
        b"setname" => argc == 3,
        b"getname" | b"id" | b"info" => argc == 2,
        b"list" => argc == 2 || argc >= 4,
        b"setinfo" => argc == 4,
        b"no-evict" | b"no-touch" => argc == 3,
        b"help" => argc == 2,
        _ => return err(&unknown_subcommand("CLIENT", &args[1])),
    };
    if !arity_ok {
        return err(&errors::wrong_arity(&format!(
            "client|{}",
            String::from_utf8_lossy(&sub)
        )));
    }
    match sub.as_slice() {
        b"setname" => set_name(session, &args[2]).map(|()| Output::Ok),
        b"getname" => {
            let name = session.info.name.lock().clone();
            Ok(if name.is_empty() {
                Output::Nil
            } else {
                Output::Bulk(name.into_bytes())
            })
        }
        b"id" => Ok(Output::Int(session.info.id as i64)),
        b"info" => Ok(Output::Bulk(
            format!("{}\n", session.info.line()).into_bytes(),
        )),
        b"list" => Ok(client_list(session)),
        b"help" => Ok(Output::Array(
            [
                "CLIENT <subcommand> [<arg> ...]. Subcommands are:",
                "ID",
                "INFO",
                "LIST",
                "GETNAME",
                "SETNAME <name>",
                "SETINFO <option> <value>",
            ]
            .into_iter()
            .map(Output::Status)
            .collect(),
        )),
        // Accepted for client libraries that send them on connect; they change nothing here.
        _ => Ok(Output::Ok),
    }
}

fn client_list(session: &Session) -> Output {
    let mut text = String::new();
    for client in session.node.clients.list() {
        text.push_str(&client.line());
        text.push('\n');
    }
    Output::Bulk(text.into_bytes())
}

/// Names the client; an empty name clears it. Names are printable ASCII without spaces.
fn set_name(session: &Session, name: &[u8]) -> Result<(), ExecError> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(ExecError::Reply(errors::BAD_CLIENT_NAME.into()));
    }
    *session.info.name.lock() = String::from_utf8_lossy(name).into_owned();
    Ok(())
}

/// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
pub fn unknown_subcommand(command: &str, sub: &[u8]) -> String {
    format!(
        "ERR unknown subcommand '{}'. Try {command} HELP.",
        String::from_utf8_lossy(sub)
    )
}

/// HELLO's `mode`: `cluster` where the node speaks the Redis Cluster protocol (redirect mode).
fn hello_mode(session: &Session) -> &'static str {
    match session.node.config.cluster_mode {
        crate::config::ClusterMode::Redirect => "cluster",
        crate::config::ClusterMode::Forward => "standalone",
    }
}
