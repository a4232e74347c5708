//! One `[accounts.<name>]` entry: reading it leniently, writing it the anchor's way.

use toml_edit::{Item, Table, TableLike, Value};

use crate::{Error, Region, Result, Secret};

/// A named service account from the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account name (the `<name>` of `[accounts.<name>]`).
    pub name: String,
    /// The service-account username.
    pub username: String,
    /// The service-account secret.
    pub secret: Secret,
    /// The Mixpanel project id.
    pub project_id: u64,
    /// The project's data-residency region.
    pub region: Region,
}

/// Parses a project id given as a string, as in `MP_PROJECT_ID` or the anchor's files.
pub(crate) fn parse_project_id(text: &str) -> Result<u64, String> {
    let digits = text.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expected a numeric project id like 1234, got '{text}'"));
    }
    match digits.parse::<u64>() {
        Ok(0) => Err("the project id must be greater than zero".to_owned()),
        Ok(id) => Ok(id),
        Err(_) => Err(format!("project id '{text}' is too large")),
    }
}

pub(crate) fn from_table(name: &str, table: &dyn TableLike) -> Result<Account> {
    let invalid = |field, message: &str| Error::InvalidAccount {
        name: name.to_owned(),
        field,
        message: message.to_owned(),
    };

    let username = required_str(name, table, "username")?;
    if username.trim().is_empty() {
        return Err(invalid("username", "must not be empty"));
    }
    let secret = required_str(name, table, "secret")?;
    if secret.is_empty() {
        return Err(invalid("secret", "must not be empty"));
    }
    let project_id = match value(table, "project_id") {
        None => return Err(invalid("project_id", "is missing; add `project_id = \"1234\"`")),
        Some(Value::Integer(i)) => match u64::try_from(*i.value()) {
            Ok(id) if id > 0 => id,
            _ => return Err(invalid("project_id", "must be a positive integer")),
        },
        Some(Value::String(s)) => {
            parse_project_id(s.value()).map_err(|m| invalid("project_id", &m))?
        }
        Some(_) => return Err(invalid("project_id", "must be an integer or a string of digits")),
    };
    let region = required_str(name, table, "region")?
        .parse::<Region>()
        .map_err(|e| invalid("region", &e.to_string()))?;

    Ok(Account {
        name: name.to_owned(),
        username: username.to_owned(),
        secret: Secret::new(secret),
        project_id,
        region,
    })
}

/// The anchor stores `project_id` as a string (its loader rejects integers), so we write
/// one to keep the file usable by both tools.
pub(crate) fn to_table(account: &Account) -> Table {
    let mut table = Table::new();
    table.insert("username", Item::Value(account.username.as_str().into()));
    table.insert("secret", Item::Value(account.secret.expose().into()));
    table.insert("project_id", Item::Value(account.project_id.to_string().into()));
    table.insert("region", Item::Value(account.region.as_str().into()));
    table
}

fn value<'t>(table: &'t dyn TableLike, field: &str) -> Option<&'t Value> {
    table.get(field).and_then(Item::as_value)
}

fn required_str<'t>(name: &str, table: &'t dyn TableLike, field: &'static str) -> Result<&'t str> {
    match value(table, field) {
        Some(Value::String(s)) => Ok(s.value()),
        // Never echo the value: for `secret` it is the secret itself.
        Some(_) => Err(Error::InvalidAccount {
            name: name.to_owned(),
            field,
            message: "must be a string".to_owned(),
        }),
        None => Err(Error::InvalidAccount {
            name: name.to_owned(),
            field,
            message: format!("is missing; add `{field} = \"...\"` under [accounts.{name}]"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use toml_edit::DocumentMut;

    use super::*;

    fn parse(body: &str) -> Result<Account> {
        let doc: DocumentMut = body.parse().expect("test TOML is valid");
        from_table("prod", doc.as_table())
    }

    #[test]
    fn integer_and_string_project_ids() {
        let a = parse("username='u'\nsecret='s'\nproject_id=1234\nregion='us'").expect("valid");
        assert_eq!(a.project_id, 1234);
        let b = parse("username='u'\nsecret='s'\nproject_id='1234'\nregion='US'").expect("valid");
        assert_eq!(b.project_id, 1234);
        assert_eq!(b.region, Region::Us);
    }

    #[test]
    fn bad_fields_name_account_and_field() {
        let cases = [
            ("username='u'\nsecret='s'\nproject_id='12x'\nregion='us'", "project_id"),
            ("username='u'\nsecret='s'\nproject_id=-4\nregion='us'", "project_id"),
            ("username='u'\nsecret='s'\nproject_id=1.5\nregion='us'", "project_id"),
            ("username='u'\nsecret='s'\nproject_id=1\nregion='mars'", "region"),
            ("username='u'\nsecret='s'\nproject_id=1", "region"),
            ("secret='s'\nproject_id=1\nregion='us'", "username"),
            ("username='u'\nsecret=42\nproject_id=1\nregion='us'", "secret"),
        ];
        for (body, want_field) in cases {
            match parse(body) {
                Err(Error::InvalidAccount { name, field, .. }) => {
                    assert_eq!(name, "prod");
                    assert_eq!(field, want_field, "{body}");
                }
                other => panic!("expected InvalidAccount for {body}, got {other:?}"),
            }
        }
    }

    #[test]
    fn project_id_strings() {
        assert_eq!(parse_project_id(" 42 "), Ok(42));
        assert!(parse_project_id("0").is_err());
        assert!(parse_project_id("+4").is_err());
        assert!(parse_project_id("99999999999999999999999").is_err());
    }
}
