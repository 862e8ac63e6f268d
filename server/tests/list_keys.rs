//! ListKeys' `Filters` over real HTTP: conditions ANDed, values ORed, the JSON shapes refused.

mod common;

use common::*;

#[tokio::test]
async fn list_keys_filters() {
    let server = start().await;
    let c = server.client();
    let enabled = common::create_key(&c).await;
    let hsm = create_key_with(&c, &[("ProtectionLevel", "HSM")]).await;
    let disabled = common::create_key(&c).await;
    c.call("DisableKey", &[("KeyId", &disabled)]).await.unwrap();
    let listed = |filters: &'static str| {
        let c = c.clone();
        async move {
            let r = c
                .call("ListKeys", &[("Filters", filters), ("PageSize", "100")])
                .await
                .unwrap();
            let v = r.json();
            if r.status != 200 {
                return Err(code(&r));
            }
            let keys: Vec<String> = v["Keys"]["Key"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["KeyId"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(v["TotalCount"], keys.len(), "{v}");
            Ok(keys)
        }
    };
    assert_eq!(
        listed(r#"[{"Key":"KeyState","Values":["Enabled"]}]"#).await,
        Ok(vec![enabled.clone(), hsm.clone()])
    );
    assert_eq!(
        listed(r#"[{"Key":"KeyState","Values":["Enabled","Disabled"]},{"Key":"ProtectionLevel","Values":["SOFTWARE"]}]"#)
            .await,
        Ok(vec![enabled.clone(), disabled.clone()])
    );
    assert_eq!(
        listed(r#"[{"Key":"ProtectionLevel","Values":["HSM"]}]"#).await,
        Ok(vec![hsm.clone()])
    );
    assert_eq!(
        listed("[]").await,
        Ok(vec![enabled.clone(), hsm.clone(), disabled.clone()])
    );
    let invalid = Err((400, "InvalidParameter".to_owned()));
    for bad in [
        "not json",
        r#"{"Key":"KeyState","Values":["Enabled"]}"#,
        r#"[{"Key":"Colour","Values":["Blue"]}]"#,
        r#"[{"Key":"KeyState","Values":"Enabled"}]"#,
        r#"[{"Key":"KeyState","Values":[1]}]"#,
        r#"[{"Key":"KeyState","Values":["Enabled"],"Extra":1}]"#,
        r#"[{"Key":"KeyState","Values":["a","b","c","d","e","f","g","h","i","j","k"]}]"#,
    ] {
        assert_eq!(listed(bad).await, invalid, "{bad}");
    }
    server.stop().await;
}
