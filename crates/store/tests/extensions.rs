mod common;

use store::{ExtensionUpdate, LiveConfig, NewExtension, Store, StoreError};

fn new_ext(number: &str, secret: &str) -> NewExtension {
    NewExtension {
        number: number.into(),
        secret: secret.into(),
        name: None,
        context: None,
        ..Default::default()
    }
}

#[tokio::test]
async fn add_get_list_update_delete() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let store = Store::open(&db.url).await.unwrap();
        assert_eq!(store.realm(), "spygroup");

        store
            .add_extension(&NewExtension {
                name: Some("Alice".into()),
                ..new_ext("110", "s3cret")
            })
            .await
            .unwrap();
        store.add_extension(&new_ext("111", "other")).await.unwrap();

        let e = store.get_extension("110").await.unwrap().unwrap();
        assert_eq!(e.name.as_deref(), Some("Alice"));
        assert_eq!(e.context, "from-internal");
        // Independently computed: md5/sha256 of "110:spygroup:s3cret".
        assert_eq!(e.ha1_md5, "3ff41783d3504eacdd8bdf2c54f38d19");
        assert_eq!(
            e.ha1_sha256,
            "be820041738a1cc311ca97b4530a4b324c7d273ab0d153aa23b26212057741ae"
        );

        let numbers: Vec<_> = store
            .list_extensions()
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.number)
            .collect();
        assert_eq!(numbers, ["110", "111"]);

        store
            .update_extension(
                "110",
                &ExtensionUpdate {
                    context: Some("agents".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let after = store.get_extension("110").await.unwrap().unwrap();
        assert_eq!(after.context, "agents");
        assert_eq!(after.name.as_deref(), Some("Alice"), "untouched field kept");
        assert_eq!(after.ha1_md5, e.ha1_md5, "secret kept");

        store
            .update_extension(
                "110",
                &ExtensionUpdate {
                    secret: Some("new".into()),
                    name: Some(String::new()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let after = store.get_extension("110").await.unwrap().unwrap();
        assert_eq!(after.name, None, "empty name clears it");
        assert_eq!(
            after.ha1_md5,
            store::secrets::ha1_pair("110", "spygroup", "new").0
        );
        assert_ne!(after.ha1_sha256, e.ha1_sha256);

        assert!(store.delete_extension("110").await.unwrap());
        assert!(!store.delete_extension("110").await.unwrap());
        assert!(store.get_extension("110").await.unwrap().is_none());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn transport_security_flags_round_trip() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let store = Store::open(&db.url).await.unwrap();
        store
            .add_extension(&NewExtension {
                require_tls: true,
                ..new_ext("110", "a")
            })
            .await
            .unwrap();
        store.add_extension(&new_ext("111", "b")).await.unwrap();

        let flags = |e: &store::Extension| (e.require_tls, e.require_srtp);
        let e = store.get_extension("110").await.unwrap().unwrap();
        assert_eq!(flags(&e), (true, false));
        let e = store.get_extension("111").await.unwrap().unwrap();
        assert_eq!(flags(&e), (false, false), "both default to off");

        store
            .update_extension(
                "110",
                &ExtensionUpdate {
                    require_srtp: Some(true),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let e = store.get_extension("110").await.unwrap().unwrap();
        assert_eq!(flags(&e), (true, true), "require_tls kept");

        store
            .update_extension(
                "110",
                &ExtensionUpdate {
                    require_tls: Some(false),
                    name: Some("Alice".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let e = store.get_extension("110").await.unwrap().unwrap();
        assert_eq!(flags(&e), (false, true), "require_srtp kept");
        assert_eq!(e.name.as_deref(), Some("Alice"));

        let listed: Vec<_> = store
            .list_extensions()
            .await
            .unwrap()
            .iter()
            .map(|e| (e.number.clone(), flags(e)))
            .collect();
        assert_eq!(
            listed,
            [
                ("110".to_string(), (false, true)),
                ("111".to_string(), (false, false))
            ]
        );

        // The switch reads them from the snapshot, not from the Store.
        let live = LiveConfig::start(store.clone()).await.unwrap();
        let snap = live.snapshot();
        assert_eq!(flags(snap.extension("110").unwrap()), (false, true));
        assert_eq!(flags(snap.extension("111").unwrap()), (false, false));
        drop(live);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn constraint_errors() {
    for db in common::backends().await {
        eprintln!("backend: {}", db.name);
        let store = Store::open(&db.url).await.unwrap();
        store.add_extension(&new_ext("110", "a")).await.unwrap();

        let dup = store.add_extension(&new_ext("110", "b")).await.unwrap_err();
        assert!(matches!(dup, StoreError::Exists { .. }), "{dup}");
        assert!(dup.to_string().contains("110"));

        for bad in [
            "",
            "1 1",
            "*222",
            "a/b",
            "12345678901234567890123456789012X",
        ] {
            let err = store.add_extension(&new_ext(bad, "x")).await.unwrap_err();
            assert!(err.is_invalid_input(), "{bad}: {err}");
        }
        let err = store.add_extension(&new_ext("112", "")).await.unwrap_err();
        assert!(err.is_invalid_input());
        let err = store
            .add_extension(&NewExtension {
                context: Some("bad context".into()),
                ..new_ext("112", "x")
            })
            .await
            .unwrap_err();
        assert!(err.is_invalid_input());

        let missing = store
            .update_extension(
                "999",
                &ExtensionUpdate {
                    name: Some("x".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");
        // Nothing was lost along the way.
        assert_eq!(store.list_extensions().await.unwrap().len(), 1);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn secret_is_never_stored_in_clear() {
    let db = common::temp_db();
    let store = Store::open(&db.url).await.unwrap();
    let secret = "PlainTextNeedle-8472";
    store.add_extension(&new_ext("110", secret)).await.unwrap();
    store.close().await;
    for entry in std::fs::read_dir(db.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "secret found in a database file"
        );
    }
}
