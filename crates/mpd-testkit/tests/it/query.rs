//! The Query API over real TCP, each number checked against a brute-force count over the
//! `/__mock/truth` lines written here independently of the mock's own code.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate};
use http::{Method, StatusCode};
use mpd_testkit::{MockConfig, MockServer};
use serde_json::{Value, json};

use crate::client::{day, get, send, service_account};
use crate::start;

pub(crate) fn query_config() -> MockConfig {
    MockConfig {
        events_per_day: 150,
        duplicate_rate: 0.05,
        missing_insert_id_rate: 0.02,
        n_users: 200,
        first_day: day(2024, 1, 1),
        last_day: day(2024, 1, 20),
        today: Some(day(2024, 1, 20)),
        ..MockConfig::default()
    }
}

/// One deduplicated truth event.
#[derive(Debug, Clone)]
pub(crate) struct Ev {
    pub(crate) name: String,
    pub(crate) time: i64,
    pub(crate) raw_id: String,
    pub(crate) user: String,
    pub(crate) props: Value,
}

impl Ev {
    pub(crate) fn day(&self) -> NaiveDate {
        DateTime::from_timestamp(self.time, 0).unwrap().date_naive()
    }
}

/// The truth of `from..=to`, fetched over HTTP, deduplicated and identity-resolved.
pub(crate) async fn truth(server: &MockServer, from: NaiveDate, to: NaiveDate) -> Vec<Ev> {
    let text = send(
        server.addr(),
        Method::GET,
        &format!("/__mock/truth?from_date={from}&to_date={to}"),
        &[],
        None,
    )
    .await
    .text();
    let merges: HashMap<String, String> = server.project().identity_merges().into_iter().collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let p = &v["properties"];
        let name = v["event"].as_str().unwrap().to_owned();
        let time = p["time"].as_i64().unwrap();
        if let Some(id) = p["$insert_id"].as_str()
            && !seen.insert((id.to_owned(), name.clone(), time))
        {
            continue;
        }
        let raw_id = p["distinct_id"].as_str().unwrap().to_owned();
        let user = merges.get(&raw_id).cloned().unwrap_or_else(|| raw_id.clone());
        out.push(Ev { name, time, raw_id, user, props: p.clone() });
    }
    out
}

/// `a=1&b=x y` with each value percent-encoded.
pub(crate) fn encode(params: &str) -> String {
    params
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => format!(
                "{k}={}",
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            ),
            None => p.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

async fn query(server: &MockServer, endpoint: &str, params: &str) -> Value {
    let params = encode(params);
    let resp = get(server, &format!("/api/query/{endpoint}?project_id=1234&{params}")).await;
    assert_eq!(resp.status, StatusCode::OK, "{endpoint}?{params}: {}", resp.text());
    resp.json()
}

fn per_day<'a>(events: impl Iterator<Item = &'a Ev>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for e in events {
        *out.entry(e.day().to_string()).or_insert(0) += 1;
    }
    out
}

fn days(from: NaiveDate, to: NaiveDate) -> Vec<String> {
    from.iter_days().take_while(|d| *d <= to).map(|d| d.to_string()).collect()
}

fn as_counts(v: &Value) -> BTreeMap<String, u64> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[tokio::test]
async fn segmentation_counts_match_the_deduplicated_truth() {
    let server = start(query_config()).await;
    let (from, to) = (day(2024, 1, 3), day(2024, 1, 9));
    let truth = truth(&server, from, to).await;
    let logins: Vec<&Ev> = truth.iter().filter(|e| e.name == "Login").collect();

    let general =
        query(&server, "segmentation", &format!("event=Login&from_date={from}&to_date={to}")).await;
    assert_eq!(general["data"]["series"], json!(days(from, to)));
    assert_eq!(general["legend_size"], 1);
    let values = &general["data"]["values"]["Login"];
    assert_eq!(values.as_object().unwrap().len(), 7, "every day present, zeros included");
    assert_eq!(as_counts(values), per_day(logins.iter().copied()));

    let unique = query(
        &server,
        "segmentation",
        &format!("event=Login&from_date={from}&to_date={to}&type=unique"),
    )
    .await;
    for d in days(from, to) {
        let users: HashSet<&str> =
            logins.iter().filter(|e| e.day().to_string() == d).map(|e| e.user.as_str()).collect();
        assert_eq!(unique["data"]["values"]["Login"][&d], users.len(), "{d}");
    }

    let by_browser = query(
        &server,
        "segmentation",
        &format!("event=Login&from_date={from}&to_date={to}&on=properties[\"$browser\"]&limit=2"),
    )
    .await;
    let segments = by_browser["data"]["values"].as_object().unwrap();
    assert_eq!(segments.len(), 2);
    let mut totals: HashMap<&str, u64> = HashMap::new();
    for e in &logins {
        *totals.entry(e.props["$browser"].as_str().unwrap()).or_default() += 1;
    }
    let mut ranked: Vec<(&str, u64)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (browser, total) in &ranked[..2] {
        let got: u64 =
            segments[*browser].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(got, *total, "{browser}");
    }

    let filtered = query(
        &server,
        "segmentation",
        &format!(
            "event=Login&from_date={from}&to_date={to}&where=properties[\"method\"] == \"email\""
        ),
    )
    .await;
    let want = per_day(logins.iter().copied().filter(|e| e.props["method"] == "email"));
    assert_eq!(as_counts(&filtered["data"]["values"]["Login"]), want);
}

#[tokio::test]
async fn late_events_are_counted() {
    let server = start(query_config()).await;
    let d = day(2024, 1, 5);
    let path = format!("segmentation?project_id=1234&event=Page%20View&from_date={d}&to_date={d}");
    let before = get(&server, &format!("/api/query/{path}")).await.json();
    server.add_late_events(d, 60);
    let after = get(&server, &format!("/api/query/{path}")).await.json();
    let truth = truth(&server, d, d).await;
    let want = truth.iter().filter(|e| e.name == "Page View").count();
    assert_eq!(after["data"]["values"]["Page View"][d.to_string()], want);
    assert!(after != before, "60 random late events include a Page View");
}

#[tokio::test]
async fn events_and_event_properties_series() {
    let server = start(query_config()).await;
    let (from, to) = (day(2024, 1, 10), day(2024, 1, 12));
    let truth = truth(&server, from, to).await;
    let v = query(
        &server,
        "events",
        &format!("event=[\"Search\",\"Purchase\",\"Nope\"]&type=general&unit=day&from_date={from}&to_date={to}"),
    )
    .await;
    for name in ["Search", "Purchase"] {
        assert_eq!(
            as_counts(&v["data"]["values"][name]),
            per_day(truth.iter().filter(|e| e.name == name))
        );
    }
    assert_eq!(v["data"]["values"]["Nope"][from.to_string()], 0);
    assert_eq!(v["legend_size"], 3);

    let p = query(
        &server,
        "events/properties",
        &format!("event=Purchase&name=currency&values=[\"EUR\",\"USD\"]&type=general&unit=day&from_date={from}&to_date={to}"),
    )
    .await;
    let keys: HashSet<&str> =
        p["data"]["values"].as_object().unwrap().keys().map(String::as_str).collect();
    assert!(keys.is_subset(&HashSet::from(["EUR", "USD"])) && !keys.is_empty());
    for currency in keys {
        let want = per_day(
            truth.iter().filter(|e| e.name == "Purchase" && e.props["currency"] == currency),
        );
        assert_eq!(as_counts(&p["data"]["values"][currency]), want, "{currency}");
    }
}

#[tokio::test]
async fn numeric_sum_and_average() {
    let server = start(query_config()).await;
    let (from, to) = (day(2024, 1, 10), day(2024, 1, 12));
    let truth = truth(&server, from, to).await;
    let purchases: Vec<&Ev> = truth.iter().filter(|e| e.name == "Purchase").collect();
    let range = format!("event=Purchase&from_date={from}&to_date={to}&on=amount");

    let numeric = query(&server, "segmentation/numeric", &range).await;
    let mut per_day_total: BTreeMap<String, u64> = BTreeMap::new();
    for (label, by_day) in numeric["data"]["values"].as_object().unwrap() {
        assert!(label.contains(" - "), "{label}");
        for (d, n) in as_counts(by_day) {
            *per_day_total.entry(d).or_default() += n;
        }
    }
    assert_eq!(per_day_total, per_day(purchases.iter().copied()));

    let sum = query(&server, "segmentation/sum", &range).await;
    let avg = query(&server, "segmentation/average", &range).await;
    assert_eq!(sum["status"], "ok");
    for d in days(from, to) {
        let amounts: Vec<f64> = purchases
            .iter()
            .filter(|e| e.day().to_string() == d)
            .map(|e| e.props["amount"].as_f64().unwrap())
            .collect();
        let total: f64 = amounts.iter().sum();
        assert!((sum["results"][&d].as_f64().unwrap() - total).abs() < 1e-6, "{d}");
        let mean = if amounts.is_empty() { 0.0 } else { total / amounts.len() as f64 };
        assert!((avg["results"][&d].as_f64().unwrap() - mean).abs() < 1e-6, "{d}");
    }
}

#[tokio::test]
async fn discovery_endpoints_follow_the_last_31_days() {
    let server = start(query_config()).await;
    let today = day(2024, 1, 20);
    let truth = truth(&server, today - chrono::Duration::days(30), today).await;

    let names = query(&server, "events/names", "type=general&limit=4").await;
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for e in &truth {
        *counts.entry(e.name.as_str()).or_default() += 1;
    }
    let mut ranked: Vec<(&str, u64)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let want: Vec<&str> = ranked.iter().take(4).map(|(n, _)| *n).collect();
    assert_eq!(names, json!(want));

    let top = query(&server, "events/top", "type=general").await;
    assert_eq!(top["type"], "general");
    let first = &top["events"][0];
    let name = first["event"].as_str().unwrap();
    let on = |d: NaiveDate| truth.iter().filter(|e| e.name == name && e.day() == d).count() as f64;
    let (now, before) = (on(today), on(today - chrono::Duration::days(1)));
    assert_eq!(first["amount"].as_f64().unwrap(), now);
    assert!((first["percent_change"].as_f64().unwrap() - (now - before) / before).abs() < 1e-9);

    let keys = query(&server, "events/properties/top", "event=Purchase&limit=50").await;
    let purchases: Vec<&Ev> = truth.iter().filter(|e| e.name == "Purchase").collect();
    assert_eq!(keys["amount"]["count"], purchases.len());
    assert!(keys.get("$insert_id").is_none() && keys.get("time").is_none());
    let with_insert_id = purchases.iter().filter(|e| e.props.get("$insert_id").is_some()).count();
    assert!(with_insert_id < purchases.len() || keys.as_object().unwrap().len() > 5);

    let values = query(&server, "events/properties/values", "event=Purchase&name=currency").await;
    let mut by_currency: HashMap<&str, u64> = HashMap::new();
    for e in &purchases {
        *by_currency.entry(e.props["currency"].as_str().unwrap()).or_default() += 1;
    }
    let best = by_currency.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).unwrap().0;
    assert_eq!(values[0], *best);
    assert_eq!(values.as_array().unwrap().len(), by_currency.len());

    let unknown = get(&server, "/api/query/events/properties/top?project_id=1234&event=Nope").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.json()["error"], "event not found: Nope");
}

#[tokio::test]
async fn funnel_entries_and_steps_match_a_brute_force_walk() {
    let server = start(query_config()).await;
    let (from, to) = (day(2024, 1, 4), day(2024, 1, 8));
    let list = query(&server, "funnels/list", "").await;
    assert_eq!(list[1], json!({"funnel_id": 7002, "name": "Signup funnel"}));
    let (steps, window) = server.funnel_steps(7002).unwrap();
    assert_eq!(steps, ["Page View", "Sign Up"]);

    let v =
        query(&server, "funnels", &format!("funnel_id=7002&from_date={from}&to_date={to}")).await;
    assert_eq!(v["meta"]["dates"], json!(days(from, to)));
    let truth = truth(&server, from, day(2024, 1, 20)).await;
    let mut by_user: HashMap<&str, Vec<&Ev>> = HashMap::new();
    for e in &truth {
        by_user.entry(e.user.as_str()).or_default().push(e);
    }
    let mut want: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for events in by_user.values_mut() {
        events.sort_by_key(|e| e.time);
        let Some(entry) = events.iter().find(|e| e.name == "Page View" && e.day() <= to) else {
            continue;
        };
        let converted = events
            .iter()
            .any(|e| e.name == "Sign Up" && e.time > entry.time && e.time <= entry.time + window);
        let slot = want.entry(entry.day().to_string()).or_default();
        slot.0 += 1;
        slot.1 += u64::from(converted);
    }
    let mut entered = 0;
    for d in days(from, to) {
        let s = &v["data"][&d]["steps"];
        let (n1, n2) = want.get(&d).copied().unwrap_or_default();
        assert_eq!(
            (s[0]["count"].as_u64().unwrap(), s[1]["count"].as_u64().unwrap()),
            (n1, n2),
            "{d}"
        );
        assert_eq!(s[0]["avg_time"], Value::Null);
        assert_eq!(v["data"][&d]["analysis"]["starting_amount"], n1);
        entered += n1;
    }
    assert!(entered > 0);

    let by_browser = query(
        &server,
        "funnels",
        &format!("funnel_id=7002&from_date={from}&to_date={to}&on=$browser"),
    )
    .await;
    let first_day = &by_browser["data"][from.to_string()];
    assert!(first_day["$overall"].is_array());
    let segment_sum: u64 = first_day
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "$overall")
        .map(|(_, steps)| steps[0]["count"].as_u64().unwrap())
        .sum();
    assert_eq!(segment_sum, first_day["$overall"][0]["count"].as_u64().unwrap());
}

#[tokio::test]
async fn retention_cohorts_hold_every_born_user() {
    let server = start(query_config()).await;
    let (from, to) = (day(2024, 1, 2), day(2024, 1, 6));
    let v = query(
        &server,
        "retention",
        &format!("from_date={from}&to_date={to}&born_event=Login&event=Purchase&interval_count=3"),
    )
    .await;
    let truth = truth(&server, from, day(2024, 1, 20)).await;
    let born: HashSet<&str> = truth
        .iter()
        .filter(|e| e.name == "Login" && e.day() <= to)
        .map(|e| e.user.as_str())
        .collect();
    let cohorts = v.as_object().unwrap();
    let total: u64 = cohorts.values().map(|c| c["first"].as_u64().unwrap()).sum();
    assert_eq!(total, born.len() as u64);
    for c in cohorts.values() {
        assert_eq!(c["counts"].as_array().unwrap().len(), 4);
        assert!(c["counts"][0].as_u64().unwrap() <= c["first"].as_u64().unwrap());
    }

    let freq = query(
        &server,
        "retention/addiction",
        &format!("from_date={from}&to_date={to}&unit=day&addiction_unit=hour&event=Search"),
    )
    .await;
    for d in days(from, to) {
        let counts = freq["data"][&d].as_array().unwrap();
        assert_eq!(counts.len(), 24);
        let users: HashSet<&str> = truth
            .iter()
            .filter(|e| e.name == "Search" && e.day().to_string() == d)
            .map(|e| e.user.as_str())
            .collect();
        assert_eq!(counts[0], users.len(), "{d}");
    }
}

#[tokio::test]
async fn reports_cohorts_stream_insights_and_flows() {
    let server = start(query_config()).await;
    let truth = truth(&server, day(2024, 1, 1), day(2024, 1, 20)).await;

    let cohorts = query(&server, "cohorts/list", "").await;
    let purchasers: HashSet<&str> =
        truth.iter().filter(|e| e.name == "Purchase").map(|e| e.user.as_str()).collect();
    assert_eq!(cohorts[0]["id"], 9001);
    assert_eq!(cohorts[0]["count"], purchasers.len());
    assert_eq!(cohorts[0]["project_id"], 1234);
    let posted = send(
        server.addr(),
        Method::POST,
        "/api/2.0/cohorts/list",
        &[("authorization", service_account().as_str())],
        Some(("application/json", r#"{"project_id": 1234}"#.to_owned())),
    )
    .await;
    assert_eq!(posted.json(), cohorts);

    let user = truth
        .iter()
        .find(|e| e.raw_id.starts_with("$device:") && e.user != e.raw_id)
        .unwrap()
        .user
        .clone();
    let (from, to) = (day(2024, 1, 1), day(2024, 1, 20));
    let feed = query(
        &server,
        "stream/query",
        &format!("distinct_ids=[\"{user}\"]&from_date={from}&to_date={to}"),
    )
    .await;
    let events = feed["results"]["events"].as_array().unwrap();
    assert_eq!(events.len(), truth.iter().filter(|e| e.user == user).count());
    assert!(
        events
            .iter()
            .any(|e| e["properties"]["$distinct_id"].as_str().unwrap().starts_with("$device:"))
    );
    assert!(
        events
            .windows(2)
            .all(|w| w[0]["properties"]["time"].as_i64() <= w[1]["properties"]["time"].as_i64())
    );

    let insight = query(&server, "insights", "bookmark_id=8001").await;
    assert_eq!(insight["headers"], json!(["$event"]));
    assert_eq!(insight["date_range"]["from_date"], "2023-12-22T00:00:00+00:00");
    let logins = per_day(truth.iter().filter(|e| e.name == "Login"));
    for (d, n) in logins {
        assert_eq!(insight["series"]["Login [Total Events]"][format!("{d}T00:00:00+00:00")], n);
    }
    let buyers_on = |d: NaiveDate, browser: Option<&str>| {
        let buyers: HashSet<&str> = truth
            .iter()
            .filter(|e| e.name == "Purchase" && e.day() == d)
            .filter(|e| browser.is_none_or(|b| e.props["$browser"] == b))
            .map(|e| e.user.as_str())
            .collect();
        buyers.len()
    };
    let buyers = &insight["series"]["Purchase [Unique Users]"];
    assert_eq!(buyers["2024-01-19T00:00:00+00:00"], buyers_on(day(2024, 1, 19), None));
    assert_eq!(
        insight["meta"]["report_sections"]["show"][1]["metric_key"],
        "Purchase [Unique Users]"
    );
    let nested = query(&server, "insights", "bookmark_id=8002").await;
    let segments = nested["series"]["Purchase [Unique Users]"].as_object().unwrap();
    assert!(segments.values().all(|b| b.as_object().unwrap().len() == 14));
    let chrome = &segments["Chrome"]["2024-01-19T00:00:00+00:00"];
    assert_eq!(chrome, &json!(buyers_on(day(2024, 1, 19), Some("Chrome"))));
    let overall = &segments["$overall"]["2024-01-19T00:00:00+00:00"];
    assert_eq!(overall, &json!(buyers_on(day(2024, 1, 19), None)));
    assert_eq!(
        get(&server, "/api/query/insights?project_id=1234&bookmark_id=1").await.status,
        StatusCode::NOT_FOUND
    );

    let flows = query(&server, "arb_funnels", "bookmark_id=8101&query_type=flows_sankey").await;
    let starters: HashSet<&str> = truth
        .iter()
        .filter(|e| e.name == "Page View" && e.day() >= day(2024, 1, 14))
        .map(|e| e.user.as_str())
        .collect();
    let anchor = &flows["steps"][0]["nodes"][0];
    assert_eq!(
        (anchor["event"].as_str(), anchor["type"].as_str()),
        (Some("Page View"), Some("ANCHOR"))
    );
    assert_eq!(anchor["totalCount"], starters.len().to_string());
    assert_eq!(flows["steps"].as_array().unwrap().len(), 4);
    for step in flows["steps"].as_array().unwrap() {
        let users: usize = step["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["totalCount"].as_str().unwrap().parse::<usize>().unwrap())
            .sum();
        assert_eq!(users, starters.len(), "every starter is in one node of every step");
    }
    let paths = query(&server, "arb_funnels", "bookmark_id=8101&query_type=flows_top_paths").await;
    assert_eq!(paths["flows"][0]["flowSteps"][0]["totalCount"], starters.len().to_string());
    let empty = query(&server, "arb_funnels", "bookmark_id=8103&query_type=flows_sankey").await;
    assert_eq!(empty["overallConversionRate"], "NaN");
}

#[tokio::test]
async fn bad_parameters_are_400_with_the_request_echoed() {
    let server = start(query_config()).await;
    for (path, needle) in [
        ("segmentation?project_id=1234&from_date=2024-01-01&to_date=2024-01-02", "'event'"),
        (
            "segmentation?project_id=1234&event=E&from_date=2024-13-01&to_date=2024-01-02",
            "from_date",
        ),
        ("segmentation?project_id=1234&event=E&from_date=2024-01-03&to_date=2024-01-02", "later"),
        (
            "segmentation?project_id=1234&event=E&from_date=2024-01-01&to_date=2024-01-02&unit=year",
            "unit",
        ),
        (
            "segmentation?project_id=1234&event=E&from_date=2024-01-01&to_date=2024-01-02&where=a%20or%20b",
            "where",
        ),
        ("events/top?project_id=1234", "type"),
        (
            "funnels?project_id=1234&funnel_id=1&from_date=2024-01-01&to_date=2024-01-02",
            "funnel_id",
        ),
        ("retention?project_id=1234&from_date=2024-01-01&to_date=2024-01-02", "born_event"),
        ("jql?project_id=1234", "JQL has been sunset"),
    ] {
        let resp = get(&server, &format!("/api/2.0/{path}")).await;
        assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{path}");
        let body = resp.json();
        assert!(body["error"].as_str().unwrap().contains(needle), "{path}: {body}");
        assert_eq!(body["request"], format!("/api/2.0/{path}"));
    }
    let unauthorized = send(server.addr(), Method::GET, "/api/query/funnels/list", &[], None).await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
    let wrong_method = send(
        server.addr(),
        Method::POST,
        "/api/query/segmentation?project_id=1234",
        &[("authorization", service_account().as_str())],
        None,
    )
    .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn shape_variants() {
    let server = start(MockConfig { query_shape_variants: true, ..query_config() }).await;
    let range = "from_date=2024-01-04&to_date=2024-01-05";
    let seg = query(&server, "segmentation", &format!("event=Login&{range}")).await;
    assert!(
        seg.get("data").is_none() && seg["series"].is_array() && seg["values"]["Login"].is_object()
    );
    let events =
        query(&server, "events", &format!("event=[\"Login\"]&type=general&unit=day&{range}")).await;
    assert!(events.get("data").is_none() && events["values"]["Login"].is_object());
    let freq =
        query(&server, "retention/addiction", &format!("unit=day&addiction_unit=hour&{range}"))
            .await;
    assert!(freq.get("data").is_none() && freq["2024-01-04"].is_array());
    let funnel = query(&server, "funnels", &format!("funnel_id=7001&{range}")).await;
    assert!(funnel["data"]["$overall"]["steps"].is_array());
    assert_eq!(funnel["data"].as_object().unwrap().len(), 3);
    let top = query(&server, "events/top", "type=general").await;
    assert!(top["events"][0].get("percent_change").is_none());
    let props = query(&server, "events/properties/top", "event=Purchase").await;
    assert!(props.as_object().unwrap().values().any(|v| v == &json!({})));
    assert!(props.as_object().unwrap().values().any(|v| v["count"].is_u64()));
}

#[tokio::test]
async fn query_rate_limit_answers_mixpanels_429_after_n_requests() {
    let server = start(MockConfig {
        query_rate_limit_per_hour: Some(2),
        faults: mpd_testkit::Faults { retry_after_secs: 7, ..mpd_testkit::Faults::default() },
        ..query_config()
    })
    .await;
    assert_eq!(
        get(&server, "/api/query/funnels/list?project_id=1234").await.status,
        StatusCode::OK
    );
    // Export is not a query: it does not use up the allowance.
    assert_eq!(
        crate::client::export(&server, day(2024, 1, 2), day(2024, 1, 2)).await.status,
        StatusCode::OK
    );
    assert_eq!(get(&server, "/api/2.0/events/names?project_id=1234").await.status, StatusCode::OK);
    let limited = get(&server, "/api/query/funnels?project_id=1234&funnel_id=7001").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers["retry-after"], "7");
    assert_eq!(
        limited.json(),
        json!({
            "request": "/api/2.0/funnels?project_id=1234&funnel_id=7001",
            "error": "Query rate limit exceeded for project_id: 1234. 0/5 queries running concurrently and 3/2 queries running in the last hour. For more information, see the rate limits documentation."
        })
    );
    let again = get(&server, "/api/query/funnels/list?project_id=1234").await;
    assert!(again.json()["error"].as_str().unwrap().contains("4/2 queries"));
    assert_eq!(server.requests().last().unwrap().faults, ["query_rate_limit"]);
}

#[tokio::test]
async fn rate_limit_rule_on_a_query_uses_the_query_body() {
    let server = start(MockConfig {
        faults: mpd_testkit::Faults {
            rate_limit: Some(mpd_testkit::FaultRule::all_days(1)),
            ..mpd_testkit::Faults::default()
        },
        ..query_config()
    })
    .await;
    let resp = get(&server, "/api/query/segmentation?project_id=1234&event=Login").await;
    assert_eq!(resp.status, StatusCode::TOO_MANY_REQUESTS);
    let body = resp.json();
    assert_eq!(body["request"], "/api/2.0/segmentation?project_id=1234&event=Login");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("0/5 queries running concurrently and 61/60 queries")
    );
    // The rule's single attempt is spent: the same request now fails validation instead.
    assert_eq!(
        get(&server, "/api/query/segmentation?project_id=1234&event=Login").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn http_status_rule_and_the_faults_control_endpoint() {
    let server = start(query_config()).await;
    let post_faults = |body: Value| {
        send(
            server.addr(),
            Method::POST,
            "/__mock/faults",
            &[],
            Some(("application/json", body.to_string())),
        )
    };
    let set = post_faults(json!({"http_status": {"status": 402, "endpoints": ["segmentation", "export"], "attempts": 0}})).await;
    assert_eq!(set.status, StatusCode::OK);
    assert_eq!(set.json()["http_status"]["status"], 402);
    let seg_path = "/api/query/segmentation?project_id=1234&event=Login&from_date=2024-01-02&to_date=2024-01-02";
    for _ in 0..2 {
        let resp = get(&server, seg_path).await;
        assert_eq!(resp.status, StatusCode::PAYMENT_REQUIRED);
        assert_eq!(resp.json()["error"], "Your plan does not include access to this API");
        assert_eq!(resp.json()["request"], seg_path);
    }
    let export = crate::client::export(&server, day(2024, 1, 2), day(2024, 1, 2)).await;
    assert_eq!(export.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(get(&server, "/api/query/segmentation/sum?project_id=1234&event=Purchase&on=amount&from_date=2024-01-02&to_date=2024-01-02").await.status, StatusCode::OK);
    assert_eq!(server.requests()[0].faults, ["http_status"]);

    for (status, message) in [
        (401, "Invalid credentials"),
        (403, "You do not have permission to access this project"),
        (503, "Internal server error"),
        (404, "Not found"),
    ] {
        post_faults(json!({"http_status": {"status": status, "endpoints": [], "attempts": 1}}))
            .await;
        let resp = get(&server, "/api/2.0/engage?project_id=1234").await;
        assert_eq!(resp.status.as_u16(), status);
        assert_eq!(resp.json()["error"], message);
        assert_eq!(
            get(&server, "/api/2.0/engage?project_id=1234").await.status,
            StatusCode::OK,
            "one attempt"
        );
    }
    post_faults(json!({"retry_after_secs": 9, "http_status": {"status": 429, "endpoints": ["events/names"]}})).await;
    let limited = get(&server, "/api/query/events/names?project_id=1234").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers["retry-after"], "9");
    assert!(
        limited.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("Query rate limit exceeded for project_id: 1234.")
    );

    let cleared = send(server.addr(), Method::POST, "/__mock/faults", &[], None).await;
    assert_eq!(cleared.status, StatusCode::OK);
    assert_eq!(get(&server, seg_path).await.status, StatusCode::OK);
    let bad = post_faults(json!({"http_status": {"status": 200}})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let unknown = post_faults(json!({"nope": 1})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}
