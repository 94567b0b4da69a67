//! Client transactions: Timers A/B/D/E/F/K/M, ACK generation for non-2xx, 2xx
//! delivery while Accepted, CANCEL guard, TCP behaviour, stray responses.

use super::*;

fn deliver(l: &mut TransactionLayer, resp: &Response, now: Instant) {
    l.handle_input(udp(), Message::Response(resp.clone()), now);
}

#[test]
fn non_invite_timer_e_schedule_and_timer_f() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let req = request(Method::Options, "z9hG4bKe", 1);
    let tx = l.send_request(req.clone(), udp(), t0);
    let first = transmits(&mut l);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].data, req.to_bytes());

    let (sent, evs) = run_until(&mut l, t0, ms(60_000));
    // 500 ms, 1 s, 2 s, 4 s, 4 s ... between sends.
    assert_eq!(
        sent,
        secs(&[0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5])
    );
    assert_eq!(evs, vec![(ms(32_000), Event::Timeout { tx })]);
    assert_eq!(l.len(), 0);
}

#[test]
fn non_invite_proceeding_uses_t2_then_timer_k() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let req = request(Method::Register, "z9hG4bKk", 1);
    let tx = l.send_request(req.clone(), udp(), t0);
    transmits(&mut l);
    l.handle_timeout(t0 + ms(500)); // first retransmission, next at 1.5 s
    transmits(&mut l);
    deliver(&mut l, &response(&req, 100, None), t0 + ms(600));
    assert!(matches!(
        events(&mut l)[..],
        [Event::Response { tx: t, ref response, .. }] if t == tx && response.status == 100
    ));
    let (sent, _) = run_until(&mut l, t0, ms(10_000));
    assert_eq!(sent, secs(&[1.5, 5.5, 9.5]), "T2 intervals in Proceeding");

    let ok = response(&req, 200, Some("srv"));
    deliver(&mut l, &ok, t0 + ms(10_000));
    assert_eq!(
        events(&mut l),
        vec![Event::Response {
            tx,
            response: ok.clone(),
            peer: udp()
        }]
    );
    // Retransmitted final absorbed during Timer K.
    deliver(&mut l, &ok, t0 + ms(11_000));
    assert!(events(&mut l).is_empty());
    assert_eq!(l.poll_timeout(), Some(t0 + ms(15_000)));
    let (sent, evs) = run_until(&mut l, t0, ms(20_000));
    assert!(sent.is_empty() && evs.is_empty());
    assert_eq!(l.len(), 0);
    deliver(&mut l, &ok, t0 + ms(21_000));
    assert_eq!(l.stray_responses(), 1);
}

#[test]
fn invite_timer_a_doubles_without_cap_and_timer_b() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let tx = l.send_request(request(Method::Invite, "z9hG4bKa", 1), udp(), t0);
    transmits(&mut l);
    let (sent, evs) = run_until(&mut l, t0, ms(60_000));
    assert_eq!(sent, secs(&[0.5, 1.5, 3.5, 7.5, 15.5, 31.5]));
    assert_eq!(evs, vec![(ms(32_000), Event::Timeout { tx })]);
    assert_eq!(l.len(), 0);
}

#[test]
fn invite_non_2xx_gets_ack_from_the_layer() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let invite = request(Method::Invite, "z9hG4bKrej", 5);
    let tx = l.send_request(invite.clone(), udp(), t0);
    transmits(&mut l);
    let ringing = response(&invite, 180, Some("callee"));
    deliver(&mut l, &ringing, t0 + ms(100));
    let busy = response(&invite, 486, Some("callee"));
    deliver(&mut l, &busy, t0 + ms(200));
    assert_eq!(
        events(&mut l),
        vec![
            Event::Response {
                tx,
                response: ringing,
                peer: udp()
            },
            Event::Response {
                tx,
                response: busy.clone(),
                peer: udp()
            }
        ]
    );
    let sent = transmits(&mut l);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].peer, udp());
    let Message::Request(ack) = parsed(&sent[0]) else {
        panic!("expected ACK request");
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, invite.uri);
    let vias = ack.vias().unwrap();
    assert_eq!(vias.len(), 1);
    assert_eq!(vias[0].branch(), Some("z9hG4bKrej"));
    assert_eq!(ack.to().unwrap().tag(), Some("callee"));
    assert_eq!(ack.from().unwrap(), invite.from().unwrap());
    assert_eq!(ack.call_id().unwrap(), invite.call_id().unwrap());
    assert_eq!(ack.cseq().unwrap(), CSeq::new(5, Method::Ack));
    assert_eq!(
        ack.headers.get_all("Route").collect::<Vec<_>>(),
        invite.headers.get_all("Route").collect::<Vec<_>>()
    );
    assert_eq!(ack.max_forwards().unwrap(), Some(70));
    assert!(ack.body.is_empty());
    ack.validate().unwrap();

    // A retransmitted 486 re-sends the same ACK and is not delivered again.
    deliver(&mut l, &busy, t0 + ms(1_000));
    let again = transmits(&mut l);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].data, sent[0].data);
    assert!(events(&mut l).is_empty());

    // Timer D (64*T1 with the default T1), no INVITE retransmission meanwhile.
    assert_eq!(l.poll_timeout(), Some(t0 + ms(200) + ms(32_000)));
    let (sent, evs) = run_until(&mut l, t0, ms(60_000));
    assert!(sent.is_empty() && evs.is_empty());
    assert_eq!(l.len(), 0);
}

#[test]
fn invite_2xx_and_retransmissions_are_delivered_while_accepted() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let invite = request(Method::Invite, "z9hG4bKok", 1);
    let tx = l.send_request(invite.clone(), udp(), t0);
    transmits(&mut l);
    deliver(&mut l, &response(&invite, 100, None), t0 + ms(100));
    // Timer A stopped by the provisional; Timer B no longer applies.
    assert_eq!(l.poll_timeout(), None);
    let ok = response(&invite, 200, Some("callee"));
    deliver(&mut l, &ok, t0 + ms(2_000));
    deliver(&mut l, &ok, t0 + ms(2_500));
    let evs = events(&mut l);
    assert_eq!(evs.len(), 3);
    assert!(evs[1..].iter().all(|e| matches!(
        e,
        Event::Response { tx: t, response, .. } if *t == tx && response.status == 200
    )));
    // The layer never ACKs a 2xx itself.
    assert!(transmits(&mut l).is_empty());
    // A late 1xx in Accepted is ignored.
    deliver(
        &mut l,
        &response(&invite, 180, Some("callee")),
        t0 + ms(2_600),
    );
    assert!(events(&mut l).is_empty());

    // Timer M: 64*T1 after the first 2xx.
    assert_eq!(l.poll_timeout(), Some(t0 + ms(34_000)));
    run_until(&mut l, t0, ms(40_000));
    assert_eq!(l.len(), 0);
    deliver(&mut l, &ok, t0 + ms(41_000));
    assert!(events(&mut l).is_empty());
    assert_eq!(l.stray_responses(), 1);
}

#[test]
fn cancel_gives_invite_64_t1_to_finish() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let invite = request(Method::Invite, "z9hG4bKc", 1);
    let inv = l.send_request(invite.clone(), udp(), t0);
    deliver(&mut l, &response(&invite, 180, Some("x")), t0 + ms(100));
    events(&mut l);
    let cancel = request(Method::Cancel, "z9hG4bKc", 1);
    let can = l.send_request(cancel.clone(), udp(), t0 + ms(5_000));
    assert_ne!(can, inv);
    deliver(&mut l, &response(&cancel, 200, Some("x")), t0 + ms(5_100));
    // The CANCEL's 200 goes to the CANCEL transaction.
    assert!(matches!(events(&mut l)[..], [Event::Response { tx, .. }] if tx == can));
    let (_, evs) = run_until(&mut l, t0, ms(60_000));
    assert_eq!(evs, vec![(ms(37_000), Event::Timeout { tx: inv })]);
    assert_eq!(l.len(), 0);
}

#[test]
fn tcp_client_transactions_do_not_retransmit() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let tx = l.send_request(request(Method::Bye, "z9hG4bKtb", 2), tcp(), t0);
    assert_eq!(transmits(&mut l).len(), 1);
    let (sent, evs) = run_until(&mut l, t0, ms(60_000));
    assert!(sent.is_empty());
    assert_eq!(
        evs,
        vec![(ms(32_000), Event::Timeout { tx })],
        "Timer F still runs"
    );

    let invite = request(Method::Invite, "z9hG4bKti", 3);
    l.send_request(invite.clone(), tcp(), t0);
    transmits(&mut l);
    l.handle_input(
        tcp(),
        Message::Response(response(&invite, 503, Some("x"))),
        t0 + ms(10),
    );
    assert_eq!(transmits(&mut l).len(), 1, "ACK sent");
    assert_eq!(l.len(), 0, "Timer D is zero on TCP");

    let opt = request(Method::Options, "z9hG4bKto", 4);
    l.send_request(opt.clone(), tcp(), t0);
    l.handle_input(
        tcp(),
        Message::Response(response(&opt, 200, None)),
        t0 + ms(10),
    );
    assert_eq!(l.len(), 0, "Timer K is zero on TCP");
}

#[test]
fn responses_matching_nothing_are_counted() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let req = request(Method::Options, "z9hG4bKnone", 1);
    deliver(&mut l, &response(&req, 200, None), t0);
    let mut bare = Response::new(200, "OK");
    deliver(&mut l, &bare, t0);
    bare.headers.push("Via", "garbage");
    deliver(&mut l, &bare, t0);
    // Same branch but another method is a different transaction.
    l.send_request(req.clone(), udp(), t0);
    let mut other = response(&req, 200, None);
    other.headers.set("CSeq", "1 INFO");
    deliver(&mut l, &other, t0);
    assert!(events(&mut l).is_empty());
    assert_eq!(l.stray_responses(), 4);
}

#[test]
fn ack_and_missing_branch_handling_in_send_request() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let ack = request(Method::Ack, "z9hG4bKack", 1);
    l.send_request(ack.clone(), udp(), t0);
    assert_eq!(transmits(&mut l)[0].data, ack.to_bytes());
    assert_eq!(l.len(), 0, "ACK creates no transaction");

    let mut req = request(Method::Options, "x", 1);
    req.headers.set("Via", "SIP/2.0/UDP 10.0.0.5:5062");
    let tx = l.send_request(req.clone(), udp(), t0);
    let Message::Request(sent) = parsed(&transmits(&mut l)[0]) else {
        panic!()
    };
    let branch = sent.top_via().unwrap().branch().unwrap().to_string();
    assert!(branch.starts_with("z9hG4bK"));
    // The response to the branch the layer added is matched.
    deliver(&mut l, &response(&sent, 200, None), t0);
    assert!(matches!(events(&mut l)[..], [Event::Response { tx: t, .. }] if t == tx));

    l.send_stateless(Message::Request(ack), udp());
    assert_eq!(transmits(&mut l).len(), 1);
}

#[test]
fn custom_t1_scales_timers() {
    let t0 = Instant::now();
    let cfg = Config {
        t1: ms(100),
        t2: ms(400),
        t4: ms(1_000),
        user_agent: None,
    };
    let mut l = TransactionLayer::new(cfg);
    let tx = l.send_request(request(Method::Info, "z9hG4bKt1", 1), udp(), t0);
    transmits(&mut l);
    let (sent, evs) = run_until(&mut l, t0, ms(10_000));
    assert_eq!(
        sent,
        secs(&[
            0.1, 0.3, 0.7, 1.1, 1.5, 1.9, 2.3, 2.7, 3.1, 3.5, 3.9, 4.3, 4.7, 5.1, 5.5, 5.9, 6.3
        ])
    );
    assert_eq!(evs, vec![(ms(6_400), Event::Timeout { tx })]);
}

#[test]
fn the_configured_user_agent_goes_on_what_has_none() {
    let cfg = Config {
        user_agent: Some("spygroup".into()),
        ..Config::default()
    };
    let mut l = TransactionLayer::new(cfg);
    let t0 = Instant::now();
    l.send_request(request(Method::Options, "z9hG4bKua1", 1), udp(), t0);
    let mut own = request(Method::Options, "z9hG4bKua2", 2);
    own.headers.push("User-Agent", "kept");
    l.send_request(own, udp(), t0);
    let sent: Vec<Message> = transmits(&mut l).iter().map(parsed).collect();
    let agents: Vec<Option<String>> = sent
        .iter()
        .map(|m| match m {
            Message::Request(r) => r.headers.get("User-Agent").map(str::to_string),
            Message::Response(_) => None,
        })
        .collect();
    assert_eq!(agents, [Some("spygroup".into()), Some("kept".into())]);
    // A stateless response says it as Server.
    let req = request(Method::Options, "z9hG4bKua3", 3);
    l.send_stateless(Message::Response(response(&req, 200, Some("t"))), udp());
    let [t] = transmits(&mut l).try_into().unwrap();
    let Message::Response(r) = parsed(&t) else {
        panic!("a response")
    };
    assert_eq!(r.headers.get("Server"), Some("spygroup"));
    // Without a configured one, nothing is added.
    let mut quiet = TransactionLayer::new(Config::default());
    quiet.send_request(request(Method::Options, "z9hG4bKua4", 4), udp(), t0);
    let [t] = transmits(&mut quiet).try_into().unwrap();
    let Message::Request(r) = parsed(&t) else {
        panic!("a request")
    };
    assert_eq!(r.headers.get("User-Agent"), None);
}
