//! The interactive console `pilot` opens when given no command.

use std::path::PathBuf;

use anyhow::Result;
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;

use crate::session::Session;

/// The usage text `help` prints.
const HELP: &str = "\
pilot: RedRaft's command-line client
Type a command with its arguments, e.g. SET key \"a value\"; quote with \"...\" (escapes \\n \\t \\xHH ...) or '...'.
  help        this text
  quit, exit  leave the console
Common commands:
  PING  ECHO  SET  GET  DEL  EXISTS  EXPIRE  TTL  INCR  INCRBY  INCRBYFLOAT  MGET  MSET
  LPUSH  RPUSH  LPOP  RPOP  LRANGE  HSET  HGET  HGETALL  SADD  SMEMBERS  ZADD  ZRANGE  ZSCORE
  HELLO  AUTH  INFO  DBSIZE  FLUSHDB  CLUSTER SLOTS  CLUSTER KEYSLOT
History is kept in ~/.pilot_history (or $PILOT_HISTFILE).";

/// The history file: `$PILOT_HISTFILE`, else `~/.pilot_history`.
fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PILOT_HISTFILE") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pilot_history"))
}

/// Reads commands until `quit`, `exit` or end of input, printing each reply.
pub fn run(session: &mut Session) -> Result<()> {
    let mut editor = DefaultEditor::new()?;
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is normal on first use.
        let _ = editor.load_history(path);
    }
    loop {
        let line = match editor.readline(&format!("{}> ", session.addr())) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(trimmed);
        match trimmed.to_ascii_lowercase().as_str() {
            "quit" | "exit" => break,
            "help" => {
                println!("{HELP}");
                continue;
            }
            _ => {}
        }
        let Ok(args) = resp::split_args(trimmed.as_bytes()) else {
            println!("Invalid argument(s)");
            continue;
        };
        if let Err(e) = session.command(&args) {
            eprintln!("{e:#}");
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(())
}
