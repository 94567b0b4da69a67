//! Dialplan functions, `${FUNC(args)}` to read and `Set(FUNC(args)=value)` to
//! write where Asterisk allows it. Names are case-insensitive.

use crate::args;
use crate::env::{lookup, Env};
use crate::host::Host;
use crate::numbers::{atoi, truthy};
use crate::subst::MAX_SUBSTITUTED;
use crate::vars::CallerId;

/// Reads `name(args)`. Unknown functions yield an empty string and a note, as
/// Asterisk logs "function not registered" and substitutes nothing.
pub async fn read<H: Host>(env: &mut Env<'_, H>, name: &str, args: &str) -> String {
    match name.to_ascii_uppercase().as_str() {
        "DB" => match db_path(args) {
            Some((f, k)) => env.host.db_get(f, k).await.unwrap_or_default(),
            None => bad_path(env, "DB", args),
        },
        "DB_EXISTS" => match db_path(args) {
            Some((f, k)) => {
                let v = env.host.db_get(f, k).await;
                env.chan.set("DB_RESULT", v.as_deref().unwrap_or(""));
                bool_str(v.is_some())
            }
            None => bad_path(env, "DB_EXISTS", args),
        },
        "DB_DELETE" => match db_path(args) {
            Some((f, k)) => match env.host.db_get(f, k).await {
                Some(v) => {
                    env.host.db_del(f, k).await;
                    v
                }
                None => String::new(),
            },
            None => bad_path(env, "DB_DELETE", args),
        },
        "CALLERID" => match args.trim().to_ascii_lowercase().as_str() {
            "num" | "number" => env.chan.caller.num.clone(),
            "name" => env.chan.caller.name.clone(),
            "all" | "" => env.chan.caller.all(),
            other => {
                env.notes.push(format!(
                    "CALLERID({other}): unknown item; use num, name or all"
                ));
                String::new()
            }
        },
        "LEN" => args.chars().count().to_string(),
        "ISNULL" => bool_str(args.is_empty()),
        "EXISTS" => bool_str(!args.is_empty()),
        "TOUPPER" => args.to_uppercase(),
        "TOLOWER" => args.to_lowercase(),
        "IF" => {
            let (cond, t, f) = args::split_condition(args);
            if truthy(cond) { t } else { f }.to_string()
        }
        "GLOBAL" => env.globals.get(args.trim()).unwrap_or_default(),
        "SET" => match args.split_once('=') {
            Some((var, value)) => {
                env.chan.set(var.trim(), value);
                value.to_string()
            }
            None => {
                env.notes.push(format!("SET({args}): write SET(VAR=value)"));
                String::new()
            }
        },
        "CUT" => cut(env, args),
        _ => {
            if let Some(v) = env.host.function(name, args).await {
                return v;
            }
            env.notes
                .push(format!("unknown function {name}(); it reads as empty"));
            String::new()
        }
    }
}

/// Writes `name(args)=value`; `Err` says why the function cannot be written.
pub async fn write<H: Host>(
    env: &mut Env<'_, H>,
    name: &str,
    args: &str,
    value: &str,
) -> Result<(), String> {
    match name.to_ascii_uppercase().as_str() {
        "DB" => {
            let (f, k) =
                db_path(args).ok_or_else(|| format!("DB({args}): write DB(family/key)"))?;
            if env.host.db_put(f, k, value).await {
                Ok(())
            } else {
                Err(format!("DB({args}): the database refused the write"))
            }
        }
        "GLOBAL" => {
            env.globals.set(args.trim(), value);
            Ok(())
        }
        "CALLERID" => {
            match args.trim().to_ascii_lowercase().as_str() {
                "num" | "number" => env.chan.caller.num = value.to_string(),
                "name" => env.chan.caller.name = value.to_string(),
                "all" | "" => env.chan.caller = CallerId::parse_all(value),
                other => return Err(format!("CALLERID({other}): use num, name or all")),
            }
            Ok(())
        }
        other => Err(format!("function {other}() cannot be written")),
    }
}

/// `family/key`, split at the last `/` so families may nest (`a/b/key`).
fn db_path(args: &str) -> Option<(&str, &str)> {
    let (f, k) = args.trim().rsplit_once('/')?;
    let f = f.trim_start_matches('/');
    (!f.is_empty() && !k.is_empty()).then_some((f, k))
}

fn bad_path<H: Host>(env: &mut Env<'_, H>, func: &str, args: &str) -> String {
    env.notes
        .push(format!("{func}({args}): write {func}(family/key)"));
    String::new()
}

fn bool_str(b: bool) -> String {
    if b { "1" } else { "0" }.to_string()
}

/// `CUT(varname,delimiter,fields)`: fields like `2`, `1-3`, `2-`, `-2`, joined by `&`.
fn cut<H: Host>(env: &mut Env<'_, H>, args: &str) -> String {
    let parts = args::separate(args, ',');
    let var = parts.first().map(|s| s.trim()).unwrap_or("");
    if var.is_empty() {
        env.notes.push("CUT needs a variable name".into());
        return String::new();
    }
    let delim = parts.get(1).and_then(|d| d.chars().next()).unwrap_or('-');
    let spec = parts.get(2).map(|s| s.trim()).unwrap_or("1");
    let value = lookup(env.chan, env.globals, env.loc, var).unwrap_or_default();
    let fields: Vec<&str> = value.split(delim).collect();
    let n = fields.len();
    let mut out: Vec<&str> = Vec::new();
    // `1&1&1...` repeats a field as often as the spec says: stop once the result
    // is past what a substitution keeps anyway.
    let mut len = 0usize;
    'pieces: for piece in spec.split('&') {
        let piece = piece.trim();
        let (lo, hi) = match piece.split_once('-') {
            Some((a, b)) => (
                if a.is_empty() {
                    1
                } else {
                    atoi(a).max(1) as usize
                },
                if b.is_empty() {
                    n
                } else {
                    atoi(b).max(0) as usize
                },
            ),
            None => {
                let i = atoi(piece).max(1) as usize;
                (i, i)
            }
        };
        for i in lo..=hi.min(n) {
            out.push(fields[i - 1]);
            len += fields[i - 1].len() + delim.len_utf8();
            if len > MAX_SUBSTITUTED {
                break 'pieces;
            }
        }
    }
    out.join(&delim.to_string())
}
