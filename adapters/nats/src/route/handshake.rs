//! The JSON of a route's and a gateway's `INFO` and `CONNECT`, with
//! nats-server's field names and order. Fields this codec does not model are kept, so that an
//! `INFO` read from a newer peer can be inspected whole.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A server's `INFO` to a route peer: at the start of the route, and again
/// when what it tells changes (new peers to gossip, client URLs, lame duck).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    pub max_payload: usize,
    #[serde(skip_serializing_if = "is_false")]
    pub jetstream: bool,
    /// The URL peers gossip to reach this server (`nats-route://host:port/`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    pub cluster: String,
    /// The cluster name was not configured: peers may impose theirs.
    #[serde(skip_serializing_if = "is_false")]
    pub cluster_dynamic: bool,
    /// Client URLs of this server, which peers add to their clients' INFO.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ws_connect_urls: Vec<String>,
    /// Lame duck mode: peers drop this server's client URLs.
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
    /// Route compression offered (2.10+); absent means none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compression: String,
    /// Understands `LS+` with an origin cluster.
    #[serde(skip_serializing_if = "is_false")]
    pub lnoc: bool,
    /// Understands `LS-` with an origin cluster.
    #[serde(skip_serializing_if = "is_false")]
    pub lnocu: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub ln: bool,
    /// Routes in this server's pool (2.10+); absent means one route
    /// carrying every account.
    #[serde(skip_serializing_if = "is_zero")]
    pub route_pool_size: usize,
    /// The place in the pool of the route this `INFO` opens, chosen by the
    /// server that dialled it (0, left out, for the first).
    #[serde(skip_serializing_if = "is_zero")]
    pub route_pool_idx: usize,
    /// The account a route this `INFO` opens is dedicated to (`cluster {
    /// accounts }`); its lines leave the account out.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub route_account: String,
    /// This server's leaf node ports, which peers tell their leaf nodes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leafnode_urls: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A route's `CONNECT`: who dials, with the credentials of the listening
/// side's `cluster { authorization }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteConnect {
    pub echo: bool,
    pub verbose: bool,
    pub pedantic: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pass: String,
    pub tls_required: bool,
    pub headers: bool,
    /// The dialing server's id.
    pub name: String,
    pub cluster: String,
    #[serde(skip_serializing_if = "is_false")]
    pub dynamic: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub lnoc: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub lnocu: bool,
    /// Set between gateways: the dialing server's gateway (cluster) name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `gateway_cmd`: the sender tells of another gateway it knows.
pub const GATEWAY_CMD_GOSSIP: u8 = 1;
/// `gateway_cmd`: all the sender's interest in an account follows.
pub const GATEWAY_CMD_ALL_SUBS_START: u8 = 2;
/// `gateway_cmd`: it all came; send only what matches it from now on.
pub const GATEWAY_CMD_ALL_SUBS_COMPLETE: u8 = 3;

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

/// A gateway's `INFO`: at the start of a gateway connection, and later as
/// a command (`gateway_cmd`), which nats-server sends with the other
/// fields empty. Field names and order are nats-server's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewayInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    pub max_payload: usize,
    /// The sender's gateway (cluster) name; with `gateway_cmd` 1, the name
    /// of the gateway it tells of.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// Where that gateway's servers are reached (`host:port`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gateway_urls: Vec<String>,
    /// The sender's own gateway URL (also in a route's `INFO`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway_url: String,
    #[serde(skip_serializing_if = "is_zero_u8")]
    pub gateway_cmd: u8,
    /// The command's argument, an account name; base64 in the JSON, as Go
    /// writes a byte slice.
    #[serde(skip_serializing_if = "String::is_empty", with = "base64_text")]
    pub gateway_cmd_payload: String,
    /// Mapped replies use the `_GR_.` prefix (not the old `$GR.`).
    #[serde(skip_serializing_if = "is_false")]
    pub gateway_nrp: bool,
    /// Every account goes interest-only at once: send nothing the
    /// receiver has not announced interest in.
    #[serde(skip_serializing_if = "is_false")]
    pub gateway_iom: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl GatewayInfo {
    /// A command `INFO` as nats-server writes it: every field of its own
    /// left at its zero value.
    pub fn command(gateway: &str, cmd: u8, account: &str) -> GatewayInfo {
        GatewayInfo {
            gateway: gateway.to_string(),
            gateway_cmd: cmd,
            gateway_cmd_payload: account.to_string(),
            ..GatewayInfo::default()
        }
    }
}

/// Go's JSON for a byte slice: standard base64.
mod base64_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&data_encoding::BASE64.encode(text.as_bytes()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let encoded = Option::<String>::deserialize(d)?.unwrap_or_default();
        let bytes = data_encoding::BASE64
            .decode(encoded.as_bytes())
            .map_err(serde::de::Error::custom)?;
        String::from_utf8(bytes).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // As nats-server 2.9.10 and 2.15.1 sent them to each other.
    const CONNECT_2_9: &str = r#"{"echo":true,"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"name":"NADJ2U7JIVB2WVWVRG5WNVT2KPM36Q3DS6JTF32ASYASADVSAMPZTWTX","cluster":"c1","lnoc":true}"#;
    const INFO_2_9: &str = r#"{"server_id":"NADJ2U7JIVB2WVWVRG5WNVT2KPM36Q3DS6JTF32ASYASADVSAMPZTWTX","server_name":"ns9","version":"2.9.10","proto":2,"go":"go1.19.8","host":"127.0.0.1","port":16223,"headers":true,"max_payload":1048576,"nonce":"RmC-ebf1RuSakmc","cluster":"c1","lnoc":true}"#;
    const INFO_2_15: &str = r#"{"server_id":"NDAH3IRBZNIQXLYW2GCNVIRMJ6FPTTEOUGBRT3OHQMSRP632RYWNR6AT","server_name":"nsA","version":"2.15.1","proto":3,"go":"go1.27.2","host":"127.0.0.1","port":16222,"headers":true,"max_payload":1048576,"nonce":"dRAAF5_3m7kRksM","cluster":"c1","connect_urls":["192.0.2.2:14222","[fd00::2]:14222"],"compression":"accept","lnoc":true,"lnocu":true,"ln":true,"route_pool_size":3}"#;
    const INFO_POOL_2: &str = r#"{"server_id":"NDY5PTVEBVVGO5O45LOC7CLOWZDBRTASK6AH6JU6OLBF65QB6JIWAYYN","server_name":"B","version":"2.15.1","proto":3,"go":"go1.27.2","host":"127.0.0.1","port":16224,"headers":true,"max_payload":1048576,"nonce":"ISCtetnsd9ghT5Q","cluster":"c1","connect_urls":["192.0.2.2:14223","[fd00::2]:14223"],"compression":"off","lnoc":true,"lnocu":true,"ln":true,"route_pool_size":3,"route_pool_idx":2}"#;
    const INFO_ACCOUNT_A: &str = r#"{"server_id":"NDY5PTVEBVVGO5O45LOC7CLOWZDBRTASK6AH6JU6OLBF65QB6JIWAYYN","server_name":"B","version":"2.15.1","proto":3,"go":"go1.27.2","host":"127.0.0.1","port":16224,"headers":true,"max_payload":1048576,"nonce":"XHkdj1wmroanKyY","cluster":"c1","connect_urls":["192.0.2.2:14223","[fd00::2]:14223"],"compression":"off","lnoc":true,"lnocu":true,"ln":true,"route_pool_size":3,"route_account":"A"}"#;

    #[test]
    fn route_info_and_connect_read_and_write_as_nats_server_does() {
        for text in [INFO_2_9, INFO_2_15] {
            let info: RouteInfo = serde_json::from_str(text).unwrap();
            assert!(info.extra.is_empty(), "{:?}", info.extra);
            assert_eq!(serde_json::to_string(&info).unwrap(), text);
        }
        let new: RouteInfo = serde_json::from_str(INFO_2_15).unwrap();
        assert_eq!((new.route_pool_size, new.lnocu), (3, true));
        // The dialling server's INFO on the third route of its pool, and on
        // the route dedicated to account A.
        for (text, idx, account) in [(INFO_POOL_2, 2, ""), (INFO_ACCOUNT_A, 0, "A")] {
            let info: RouteInfo = serde_json::from_str(text).unwrap();
            assert!(info.extra.is_empty(), "{:?}", info.extra);
            assert_eq!((info.route_pool_idx, info.route_account.as_str()), (idx, account));
            assert_eq!(serde_json::to_string(&info).unwrap(), text);
        }
        let connect: RouteConnect = serde_json::from_str(CONNECT_2_9).unwrap();
        assert_eq!(connect.cluster, "c1");
        assert_eq!(serde_json::to_string(&connect).unwrap(), CONNECT_2_9);
    }

    // As nats-server 2.15.1 gateways A and B sent them to each other.
    const GW_INFO: &str = r#"{"server_id":"NDGMOY3JF32RPS55ZK4I6A2ZW2RVZHFQ47H24VBOXEDZGQNUHP6DPMWU","server_name":"gB","version":"2.15.1","proto":3,"go":"","host":"192.0.2.2","port":17322,"headers":true,"auth_required":true,"max_payload":1048576,"gateway":"B","gateway_urls":["192.0.2.2:17322"],"gateway_url":"192.0.2.2:17322","gateway_nrp":true,"gateway_iom":true}"#;
    const GW_CMD: &str = r#"{"server_id":"","server_name":"","version":"","proto":0,"go":"","host":"","port":0,"headers":false,"max_payload":0,"gateway":"A","gateway_cmd":2,"gateway_cmd_payload":"JFNZUw=="}"#;
    const GW_CONNECT: &str = r#"{"echo":false,"verbose":false,"pedantic":false,"user":"gw","pass":"pw","tls_required":false,"headers":false,"name":"NAGTF3ELIJGKOELUCB32SL653QRUG7WVMCIDN2OWHQFSPMYDLBHJ7WK7","cluster":"","gateway":"A"}"#;

    #[test]
    fn gateway_info_commands_and_connect_as_nats_server_writes_them() {
        let info: GatewayInfo = serde_json::from_str(GW_INFO).unwrap();
        assert!(info.extra.is_empty(), "{:?}", info.extra);
        assert!(info.gateway_iom && info.gateway_nrp);
        assert_eq!(serde_json::to_string(&info).unwrap(), GW_INFO);
        let cmd: GatewayInfo = serde_json::from_str(GW_CMD).unwrap();
        assert_eq!((cmd.gateway_cmd, cmd.gateway_cmd_payload.as_str()), (2, "$SYS"));
        let made = GatewayInfo::command("A", GATEWAY_CMD_ALL_SUBS_START, "$SYS");
        assert_eq!(serde_json::to_string(&made).unwrap(), GW_CMD);
        let connect: RouteConnect = serde_json::from_str(GW_CONNECT).unwrap();
        assert_eq!(connect.gateway, "A");
        assert_eq!(serde_json::to_string(&connect).unwrap(), GW_CONNECT);
    }

    #[test]
    fn fields_of_later_versions_are_kept() {
        let info: RouteInfo = serde_json::from_str(r#"{"server_id":"N","gossip_mode":1}"#).unwrap();
        assert_eq!(info.extra["gossip_mode"], 1);
    }
}
