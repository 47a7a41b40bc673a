//! Property tests of quoting: for every variable that reaches a file, generated
//! values (quotes, backslashes, line breaks, `#`, spaces, keywords, Unicode, `$()`,
//! backticks, a leading `-`) are either refused when the inventory is read, or
//! come back exactly when the rendered file is read the way its consumer reads it,
//! with no extra setting, rule or field. The readers below follow PostgreSQL's and
//! libpq's own (`hba.c` `next_token`, `guc-file.l`, libpq's `.pgpass` and conninfo
//! parsers); the lab tests check the same files against a real server.

use pgconverge::desired::DesiredState;
use pgconverge::inventory::Inventory;
use pgconverge::pgconf as conf;
use pgconverge::playbook::Playbook;
use proptest::prelude::*;
use std::path::Path;

/// Pieces that break naive quoting, and ordinary text between them.
fn awkward() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("\n".to_string()),
        Just("#".to_string()),
        Just(" ".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("=".to_string()),
        Just("$(id)".to_string()),
        Just("`id`".to_string()),
        Just("-".to_string()),
        Just("all".to_string()),
        Just("replication".to_string()),
        Just("+".to_string()),
        Just("@".to_string()),
        Just("é".to_string()),
        Just("密".to_string()),
        Just("%".to_string()),
        "[a-z0-9]{1,4}",
    ];
    prop::collection::vec(piece, 1..6).prop_map(|pieces| pieces.concat())
}

/// The YAML of a double-quoted scalar holding `text`.
fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

/// Reads the inventory with `vars` added to `all`, and renders the desired state;
/// `None` when the inventory or a template refuses it.
fn desired(vars: &str, password: &str) -> Option<DesiredState> {
    let text = format!(
        "all:\n  vars:\n    pg_version: 15\n    replication_password: {}\n{vars}  children:\n    primary:\n      hosts:\n        db1: {{ ansible_host: 10.0.0.11 }}\n    standby:\n      hosts:\n        db2: {{ ansible_host: 10.0.0.12 }}\n",
        yaml_string(password)
    );
    let inventory = Inventory::parse(Path::new("inventory.yaml"), &text, &|_| None).ok()?;
    let playbook = Playbook::load(None).expect("the built-in playbook");
    DesiredState::build(
        &inventory,
        &playbook,
        &pgconverge::render::Renderer::new(None),
    )
    .ok()
}

fn file(desired: &DesiredState, host: &str, step: &str) -> String {
    match desired
        .hosts
        .get(host)
        .and_then(|host| host.steps.get(step))
    {
        Some(step) if step.rendered_file().is_some() => step
            .rendered_file()
            .map(|file| file.content.clone())
            .unwrap_or_default(),
        other => panic!("{host}/{step} is not a file: {other:?}"),
    }
}

/// `pg_hba.conf` lines as PostgreSQL reads them: each a list of fields, each field
/// a list of (token, was quoted). Follows `next_token` of PostgreSQL's `hba.c`.
fn hba_lines(text: &str) -> Vec<Vec<Vec<(String, bool)>>> {
    let mut lines = Vec::new();
    for line in text.lines() {
        let chars: Vec<char> = line.chars().collect();
        let mut index = 0;
        let mut fields: Vec<Vec<(String, bool)>> = Vec::new();
        'fields: loop {
            let mut field = Vec::new();
            loop {
                while index < chars.len() && (chars[index] == ' ' || chars[index] == '\t') {
                    index += 1;
                }
                if index >= chars.len() || (chars[index] == '#') {
                    if !field.is_empty() {
                        fields.push(field);
                    }
                    break 'fields;
                }
                let (mut token, mut in_quote, mut was_quote, mut saw_quote) =
                    (String::new(), false, false, false);
                while index < chars.len()
                    && (in_quote || !(chars[index] == ' ' || chars[index] == '\t'))
                {
                    let c = chars[index];
                    if c == '#' && !in_quote {
                        break;
                    }
                    if c == ',' && !in_quote {
                        break;
                    }
                    if c != '"' || was_quote {
                        token.push(c);
                    }
                    was_quote = in_quote && c == '"' && !was_quote;
                    if c == '"' {
                        in_quote = !in_quote;
                        saw_quote = true;
                    }
                    index += 1;
                }
                field.push((token, saw_quote));
                if index < chars.len() && chars[index] == ',' {
                    index += 1;
                    continue;
                }
                break;
            }
            fields.push(field);
        }
        if !fields.is_empty() {
            lines.push(fields);
        }
    }
    lines
}

/// A `.pgpass` line's fields as libpq reads them: `:` separates, `\` escapes.
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().expect("a field").push(next);
                }
            }
            ':' => fields.push(String::new()),
            c => fields.last_mut().expect("a field").push(c),
        }
    }
    fields
}

/// A connection string's `name=value` pairs as libpq reads them.
fn conninfo_pairs(text: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = text.chars().collect();
    let mut index = 0;
    let mut pairs = Vec::new();
    while index < chars.len() {
        while index < chars.len() && chars[index].is_whitespace() {
            index += 1;
        }
        if index >= chars.len() {
            break;
        }
        let mut name = String::new();
        while index < chars.len() && chars[index] != '=' && !chars[index].is_whitespace() {
            name.push(chars[index]);
            index += 1;
        }
        // Blanks, one `=`, blanks: what follows is the value, `=` or not.
        while index < chars.len() && chars[index].is_whitespace() {
            index += 1;
        }
        if index < chars.len() && chars[index] == '=' {
            index += 1;
        }
        while index < chars.len() && chars[index].is_whitespace() {
            index += 1;
        }
        let mut value = String::new();
        if index < chars.len() && chars[index] == '\'' {
            index += 1;
            while index < chars.len() && chars[index] != '\'' {
                if chars[index] == '\\' && index + 1 < chars.len() {
                    index += 1;
                }
                value.push(chars[index]);
                index += 1;
            }
            index += 1;
        } else {
            while index < chars.len() && !chars[index].is_whitespace() {
                if chars[index] == '\\' && index + 1 < chars.len() {
                    index += 1;
                }
                value.push(chars[index]);
                index += 1;
            }
        }
        pairs.push((name, value));
    }
    pairs
}

/// The settings `postgresql.conf` sets, in order, as PostgreSQL reads them.
fn conf_settings(text: &str) -> Vec<(String, String)> {
    text.lines().filter_map(conf::parse_line).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_replication_user_round_trips_through_every_file(user in awkward()) {
        let Some(desired) = desired(&format!("    replication_user: {}\n", yaml_string(&user)), "pw") else {
            // Refused: it must be one of the values no quoting can carry.
            prop_assert!(user.contains('\n') || user.len() > 63, "refused {user:?}");
            return Ok(());
        };
        // pg_hba.conf: each member's replication rule names exactly that user.
        let hba = file(&desired, "db1", "pg_hba_conf");
        let rules: Vec<_> = hba_lines(&hba)
            .into_iter()
            .filter(|fields| fields.len() == 5 && fields[0][0].0 == "host" && fields[1][0].0 == "replication" && fields[3][0].0 != "127.0.0.1/32")
            .collect();
        prop_assert_eq!(rules.len(), 2, "{}", hba);
        for fields in &rules {
            prop_assert_eq!(fields[2].len(), 1, "one user token: {}", hba);
            let (token, quoted) = &fields[2][0];
            prop_assert_eq!(token, &user);
            let special = ["all", "sameuser", "samerole", "samegroup", "replication"].contains(&token.as_str())
                || token.starts_with(['+', '@', '/']);
            prop_assert!(*quoted || !special, "{} must be quoted", token);
            prop_assert_eq!(fields[4].len(), 1);
            prop_assert_eq!(&fields[4][0].0, "scram-sha-256");
        }
        // .pgpass: a line per member and database, five fields each, the fourth the user.
        let pgpass = file(&desired, "db2", "pgpass");
        prop_assert_eq!(pgpass.lines().count(), 4, "{}", pgpass);
        for line in pgpass.lines() {
            let fields = pgpass_fields(line);
            prop_assert_eq!(fields.len(), 5, "{}", pgpass);
            prop_assert_eq!(&fields[3], &user);
        }
        // postgresql.conf of the standby: primary_conninfo's user, and no other setting.
        let conf = file(&desired, "db2", "postgresql_conf");
        let settings = conf_settings(&conf);
        let conninfo: Vec<&String> = settings.iter().filter(|(name, _)| name == "primary_conninfo").map(|(_, value)| value).collect();
        prop_assert_eq!(conninfo.len(), 1);
        let pairs = conninfo_pairs(conninfo[0]);
        let names: Vec<&str> = pairs.iter().map(|(name, _)| name.as_str()).collect();
        prop_assert_eq!(names, vec!["host", "port", "user", "application_name", "sslmode", "passfile"]);
        prop_assert_eq!(&pairs[2].1, &user);
        let plain = desired_plain_conf_names();
        let names: Vec<String> = settings.iter().map(|(name, _)| name.clone()).collect();
        prop_assert_eq!(names, plain);
    }

    #[test]
    fn the_password_round_trips_through_pgpass(password in awkward()) {
        let Some(desired) = desired("", &password) else {
            prop_assert!(password.contains('\n'), "refused {password:?}");
            return Ok(());
        };
        // A line per member and database, each only for that server.
        let pgpass = file(&desired, "db2", "pgpass");
        let lines: Vec<Vec<String>> = pgpass.lines().map(pgpass_fields).collect();
        let servers: Vec<[&str; 3]> = lines
            .iter()
            .map(|fields| [fields[0].as_str(), fields[1].as_str(), fields[2].as_str()])
            .collect();
        prop_assert_eq!(
            servers,
            vec![
                ["10.0.0.11", "5432", "replication"],
                ["10.0.0.11", "5432", "postgres"],
                ["10.0.0.12", "5432", "replication"],
                ["10.0.0.12", "5432", "postgres"],
            ]
        );
        for fields in &lines {
            prop_assert_eq!(fields.len(), 5, "{}", pgpass);
            prop_assert_eq!(&fields[4], &password);
        }
    }

    #[test]
    fn string_settings_round_trip_through_postgresql_conf(value in awkward(), name_index in 0usize..3) {
        let name = ["listen_addresses", "pg_data_dir", "pg_socket_dir"][name_index];
        let setting = ["listen_addresses", "data_directory", "unix_socket_directories"][name_index];
        let written = if name == "listen_addresses" { value.clone() } else { format!("/srv/{value}") };
        let Some(desired) = desired(&format!("    {name}: {}\n", yaml_string(&written)), "pw") else {
            let unsafe_path = written.split('/').any(|part| part == "..");
            prop_assert!(written.contains('\n') || unsafe_path, "refused {written:?}");
            return Ok(());
        };
        let conf = file(&desired, "db1", "postgresql_conf");
        let settings = conf_settings(&conf);
        let found: Vec<&String> = settings.iter().filter(|(found, _)| found == setting).map(|(_, value)| value).collect();
        prop_assert_eq!(found, vec![&written], "{}", conf);
        let names: Vec<String> = settings.iter().map(|(name, _)| name.clone()).collect();
        prop_assert_eq!(names, primary_conf_names());
    }

    #[test]
    fn directories_round_trip_into_every_setting_made_from_them(value in awkward(), which in 0usize..2) {
        let written = format!("/srv/{value}");
        let name = ["pg_config_dir", "pg_home_dir"][which];
        let Some(desired) = desired(&format!("    {name}: {}\n", yaml_string(&written)), "pw") else {
            let unsafe_path = written.split('/').any(|part| part == "..");
            prop_assert!(written.contains('\n') || unsafe_path, "refused {written:?}");
            return Ok(());
        };
        let conf = file(&desired, "db2", "postgresql_conf");
        let settings = conf_settings(&conf);
        let value_of = |setting: &str| {
            settings.iter().find(|(name, _)| name == setting).map(|(_, value)| value.clone())
        };
        if name == "pg_config_dir" {
            prop_assert_eq!(value_of("hba_file"), Some(format!("{written}/pg_hba.conf")));
            prop_assert_eq!(value_of("ident_file"), Some(format!("{written}/pg_ident.conf")));
        } else {
            let conninfo = value_of("primary_conninfo").unwrap_or_default();
            let pairs = conninfo_pairs(&conninfo);
            prop_assert_eq!(&pairs[5], &("passfile".to_string(), format!("{written}/.pgpass")));
        }
        let names: Vec<String> = settings.iter().map(|(name, _)| name.clone()).collect();
        prop_assert_eq!(names, desired_plain_conf_names());
    }

    #[test]
    fn an_address_is_an_address_or_refused(value in awkward()) {
        let hosts = format!("    ansible_host: {}\n", yaml_string(&value));
        let accepted = desired(&hosts.replace("ansible_host", "replication_host"), "pw").is_some();
        prop_assert_eq!(accepted, pgconverge::address::is_address(&value), "{:?}", value);
    }

    #[test]
    fn pg_settings_values_round_trip(value in awkward()) {
        let vars = format!("    pg_settings:\n      application_name: {}\n", yaml_string(&value));
        let Some(desired) = desired(&vars, "pw") else {
            prop_assert!(value.contains('\n'), "refused {value:?}");
            return Ok(());
        };
        let conf = file(&desired, "db1", "postgresql_conf");
        let settings = conf_settings(&conf);
        let found: Vec<&String> = settings.iter().filter(|(name, _)| name == "application_name").map(|(_, value)| value).collect();
        prop_assert_eq!(found, vec![&value], "{}", conf);
    }
}

/// The settings the primary's `postgresql.conf` has with plain values.
fn primary_conf_names() -> Vec<String> {
    let desired = desired("", "pw").expect("a plain inventory");
    conf_settings(&file(&desired, "db1", "postgresql_conf"))
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// The settings the standby's `postgresql.conf` has with plain values.
fn desired_plain_conf_names() -> Vec<String> {
    let desired = desired("", "pw").expect("a plain inventory");
    conf_settings(&file(&desired, "db2", "postgresql_conf"))
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn the_readers_read_what_postgresql_and_libpq_read() {
    let hba =
        hba_lines("host replication \"all\",x \"say \"\"hi\"\"\" # comment\nlocal all all peer\n");
    assert_eq!(hba[0][1], vec![("replication".to_string(), false)]);
    assert_eq!(
        hba[0][2],
        vec![("all".to_string(), true), ("x".to_string(), false)]
    );
    assert_eq!(hba[0][3], vec![("say \"hi\"".to_string(), true)]);
    assert_eq!(hba[0].len(), 4);
    assert_eq!(
        pgpass_fields(r"*:*:*:us\:er:pa\\ss"),
        ["*", "*", "*", "us:er", r"pa\ss"]
    );
    assert_eq!(
        conninfo_pairs(r"host=a user='it\'s me' port = 5 x=="),
        [
            ("host".into(), "a".into()),
            ("user".into(), "it's me".into()),
            ("port".into(), "5".into()),
            ("x".into(), "=".into())
        ]
    );
}
