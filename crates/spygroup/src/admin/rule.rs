//! `spygroup rule …`: inbound monitoring rules (calls from a trunk to a range of
//! extensions get spy groups).

use anyhow::bail;
use clap::Subcommand;
use store::Store;

use super::{parse_group_list, parse_trunk, table, GroupList};

#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Give calls to extensions LOW..HIGH (numeric, inclusive) the spy groups GROUPS.
    Add {
        /// LOW-HIGH, e.g. 110-160, or a single number.
        #[arg(long, value_name = "LOW-HIGH", value_parser = parse_range)]
        range: Range,
        /// Comma-separated spy groups.
        #[arg(long, value_name = "G1,G2", value_parser = parse_group_list)]
        groups: GroupList,
        /// Only calls arriving from this trunk [default: any trunk].
        #[arg(long, value_name = "NAME", value_parser = parse_trunk)]
        trunk: Option<String>,
    },
    /// Delete rule ID.
    Del {
        #[arg(value_parser = clap::value_parser!(i64).range(1..))]
        id: i64,
    },
    /// List rules.
    List,
}

/// A checked `--range`.
#[derive(Debug, Clone)]
pub struct Range {
    pub low: String,
    pub high: String,
}

fn parse_range(s: &str) -> Result<Range, String> {
    let (low, high) = s.split_once('-').unwrap_or((s, s));
    store::validate::range(low.trim(), high.trim()).map_err(|e| e.to_string())?;
    Ok(Range {
        low: low.trim().to_string(),
        high: high.trim().to_string(),
    })
}

pub async fn run(store: &Store, cmd: RuleCommand) -> anyhow::Result<()> {
    match cmd {
        RuleCommand::Add {
            range,
            groups,
            trunk,
        } => {
            let id = store
                .rule_add(trunk.as_deref(), &range.low, &range.high, &groups.0)
                .await?;
            println!("rule {id} added");
        }
        RuleCommand::Del { id } => {
            if !store.rule_del(id).await? {
                bail!("rule {id} does not exist");
            }
            println!("rule {id} deleted");
        }
        RuleCommand::List => {
            let rows: Vec<Vec<String>> = store
                .rule_list()
                .await?
                .into_iter()
                .map(|r| {
                    vec![
                        r.id.to_string(),
                        r.trunk.unwrap_or_else(|| "any".into()),
                        format!("{}-{}", r.low, r.high),
                        r.groups.join(","),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(&["ID", "TRUNK", "RANGE", "GROUPS"], &rows)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        let r = parse_range("110-160").unwrap();
        assert_eq!((r.low.as_str(), r.high.as_str()), ("110", "160"));
        let r = parse_range("200").unwrap();
        assert_eq!((r.low.as_str(), r.high.as_str()), ("200", "200"));
        assert!(parse_range("160-110").unwrap_err().contains("high"));
        assert!(parse_range("a-b").is_err());
        assert!(parse_range("1-2-3").is_err());
        assert!(parse_range("").is_err());
    }
}
