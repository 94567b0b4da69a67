//! Server transactions: retransmission absorption, Timers G/H/I/J/L, 2xx
//! retransmission until ACK, CANCEL lookup, TCP behaviour.

use super::*;

/// Feed an INVITE and return the server tx id from the Request event.
fn receive(layer: &mut TransactionLayer, req: &Request, peer: Peer, now: Instant) -> ServerTxId {
    layer.handle_input(peer, Message::Request(req.clone()), now);
    match events(layer).as_slice() {
        [Event::Request {
            tx: Some(tx),
            request,
            peer: p,
        }] => {
            assert_eq!(request, req);
            assert_eq!(*p, peer);
            *tx
        }
        other => panic!("expected one Request event, got {other:?}"),
    }
}

#[test]
fn non_invite_retransmission_and_timer_j() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let req = request(Method::Options, "z9hG4bKopt", 1);
    let tx = receive(&mut l, &req, udp(), t0);

    // Retransmission before any response: absorbed silently.
    l.handle_input(udp(), Message::Request(req.clone()), t0 + ms(100));
    assert!(events(&mut l).is_empty());
    assert!(transmits(&mut l).is_empty());

    l.respond(tx, response(&req, 200, Some("t")), t0 + ms(200));
    let sent = transmits(&mut l);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].peer, udp());
    match parsed(&sent[0]) {
        Message::Response(r) => assert_eq!(r.status, 200),
        Message::Request(_) => panic!(),
    }
    // A second final is ignored.
    l.respond(tx, response(&req, 500, None), t0 + ms(250));
    assert!(transmits(&mut l).is_empty());

    // Retransmitted request: the 200 again, no event.
    l.handle_input(udp(), Message::Request(req.clone()), t0 + ms(1000));
    assert_eq!(transmits(&mut l).len(), 1);
    assert!(events(&mut l).is_empty());

    // Timer J = 64*T1 after the final response; no retransmissions on its own.
    assert_eq!(l.poll_timeout(), Some(t0 + ms(200) + ms(32_000)));
    let (sent, evs) = run_until(&mut l, t0, ms(40_000));
    assert!(sent.is_empty() && evs.is_empty());
    assert_eq!(l.len(), 0);

    // After J the same request is new again.
    l.handle_input(udp(), Message::Request(req), t0 + ms(40_000));
    assert!(matches!(events(&mut l)[..], [Event::Request { .. }]));
}

#[test]
fn non_invite_over_tcp_ends_on_final() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let req = request(Method::Register, "z9hG4bKreg", 1);
    let tx = receive(&mut l, &req, tcp(), t0);
    l.respond(tx, response(&req, 100, None), t0);
    assert_eq!(l.len(), 1);
    l.respond(tx, response(&req, 200, Some("t")), t0);
    assert_eq!(transmits(&mut l).len(), 2);
    assert_eq!(l.len(), 0, "Timer J is zero on TCP");
    assert_eq!(l.poll_timeout(), None);
}

#[test]
fn invite_provisional_is_resent_on_retransmission() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let req = request(Method::Invite, "z9hG4bKinv", 1);
    let tx = receive(&mut l, &req, udp(), t0);
    l.respond(tx, response(&req, 180, Some("t")), t0);
    assert_eq!(transmits(&mut l).len(), 1);
    assert_eq!(l.poll_timeout(), None, "no timers in Proceeding");
    l.handle_input(udp(), Message::Request(req), t0 + ms(500));
    let again = transmits(&mut l);
    assert_eq!(again.len(), 1);
    match parsed(&again[0]) {
        Message::Response(r) => assert_eq!(r.status, 180),
        Message::Request(_) => panic!(),
    }
    assert!(events(&mut l).is_empty());
}

#[test]
fn invite_non_2xx_timer_g_until_ack_then_timer_i() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let req = request(Method::Invite, "z9hG4bKbusy", 1);
    let tx = receive(&mut l, &req, udp(), t0);
    let busy = response(&req, 486, Some("t"));
    l.respond(tx, busy.clone(), t0);
    assert_eq!(transmits(&mut l).len(), 1);

    // Timer G: 0.5, 1, 2, 4, 4 ... between retransmissions.
    let (sent, evs) = run_until(&mut l, t0, ms(12_000));
    assert_eq!(sent, secs(&[0.5, 1.5, 3.5, 7.5, 11.5]));
    assert!(evs.is_empty());

    // ACK for the 486 (same branch, To tag of the response): absorbed, stops G.
    let mut ack = request(Method::Ack, "z9hG4bKbusy", 1);
    ack.headers.set("To", busy.headers.get("To").unwrap());
    l.handle_input(udp(), Message::Request(ack.clone()), t0 + ms(12_000));
    assert!(events(&mut l).is_empty());
    assert!(transmits(&mut l).is_empty());
    // Retransmitted ACK in Confirmed: still absorbed.
    l.handle_input(udp(), Message::Request(ack), t0 + ms(13_000));
    assert!(events(&mut l).is_empty());

    // Timer I = T4 after the ACK, then the transaction is gone.
    assert_eq!(l.poll_timeout(), Some(t0 + ms(17_000)));
    let (sent, evs) = run_until(&mut l, t0, ms(20_000));
    assert!(sent.is_empty() && evs.is_empty());
    assert_eq!(l.len(), 0);
}

#[test]
fn invite_non_2xx_timer_h_reports_ack_timeout() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let req = request(Method::Invite, "z9hG4bKnoack", 1);
    let tx = receive(&mut l, &req, udp(), t0);
    l.respond(tx, response(&req, 404, Some("t")), t0);
    transmits(&mut l);
    let (sent, evs) = run_until(&mut l, t0, ms(60_000));
    assert_eq!(
        sent,
        secs(&[0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5])
    );
    assert_eq!(evs, vec![(ms(32_000), Event::AckTimeout { tx })]);
    assert_eq!(l.len(), 0);
}

#[test]
fn a_challenge_sent_once_is_not_retransmitted_on_a_timer() {
    // A forged INVITE (spoofed source) gets one 407, not eleven: we are no amplifier.
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let req = request(Method::Invite, "z9hG4bKforged", 1);
    let tx = receive(&mut l, &req, udp(), t0);
    l.respond_once(tx, response(&req, 407, Some("t")), t0);
    assert_eq!(transmits(&mut l).len(), 1);
    let (sent, evs) = run_until(&mut l, t0, ms(10_000));
    assert!(sent.is_empty(), "no Timer G: {sent:?}");
    assert!(evs.is_empty());
    // A real phone that lost it retransmits its INVITE: one 407 per INVITE.
    l.handle_input(udp(), Message::Request(req.clone()), t0 + ms(10_000));
    assert_eq!(transmits(&mut l).len(), 1);
    assert!(
        events(&mut l).is_empty(),
        "a retransmission, not a new request"
    );
    // Timer H still ends the transaction.
    let (sent, evs) = run_until(&mut l, t0, ms(40_000));
    assert!(sent.is_empty());
    assert_eq!(evs, vec![(ms(32_000), Event::AckTimeout { tx })]);
    assert_eq!(l.len(), 0);
}

#[test]
fn invite_2xx_retransmitted_until_ack() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let req = request(Method::Invite, "z9hG4bKok", 7);
    let tx = receive(&mut l, &req, udp(), t0);
    l.respond(tx, response(&req, 200, Some("t")), t0);
    assert_eq!(transmits(&mut l).len(), 1);

    let (sent, evs) = run_until(&mut l, t0, ms(4_000));
    assert_eq!(sent, secs(&[0.5, 1.5, 3.5]));
    assert!(evs.is_empty());

    // INVITE retransmission in Accepted: the 2xx again, no new event.
    l.handle_input(udp(), Message::Request(req.clone()), t0 + ms(4_000));
    assert_eq!(transmits(&mut l).len(), 1);
    assert!(events(&mut l).is_empty());

    // The ACK for a 2xx carries a new branch; it matches by Call-ID + CSeq number.
    let ack = request(Method::Ack, "z9hG4bKnewbranch", 7);
    l.handle_input(udp(), Message::Request(ack.clone()), t0 + ms(5_000));
    assert_eq!(
        events(&mut l),
        vec![Event::Ack {
            request: ack.clone(),
            peer: udp()
        }]
    );
    // A duplicate ACK is absorbed; retransmissions have stopped.
    l.handle_input(udp(), Message::Request(ack), t0 + ms(6_000));
    assert!(events(&mut l).is_empty());
    let (sent, evs) = run_until(&mut l, t0, ms(40_000));
    assert!(sent.is_empty(), "no 2xx after the ACK: {sent:?}");
    assert!(evs.is_empty(), "no AckTimeout once acked");
    assert_eq!(l.len(), 0, "Timer L ends the transaction");
}

#[test]
fn invite_2xx_without_ack_times_out() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let req = request(Method::Invite, "z9hG4bKlost", 1);
    let tx = receive(&mut l, &req, udp(), t0);
    l.respond(tx, response(&req, 200, Some("t")), t0);
    transmits(&mut l);
    let (sent, evs) = run_until(&mut l, t0, ms(60_000));
    assert_eq!(
        sent,
        secs(&[0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5])
    );
    assert_eq!(evs, vec![(ms(32_000), Event::AckTimeout { tx })]);
    assert_eq!(l.len(), 0);
}

#[test]
fn ack_reusing_invite_branch_is_accepted_for_2xx() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let req = request(Method::Invite, "z9hG4bKsame", 1);
    let tx = receive(&mut l, &req, udp(), t0);
    l.respond(tx, response(&req, 200, Some("t")), t0);
    let ack = request(Method::Ack, "z9hG4bKsame", 1);
    l.handle_input(udp(), Message::Request(ack.clone()), t0 + ms(100));
    assert_eq!(
        events(&mut l),
        vec![Event::Ack {
            request: ack,
            peer: udp()
        }]
    );
}

#[test]
fn stray_ack_goes_to_tu() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let ack = request(Method::Ack, "z9hG4bKstray", 9);
    l.handle_input(udp(), Message::Request(ack.clone()), t0);
    assert_eq!(
        events(&mut l),
        vec![Event::Ack {
            request: ack,
            peer: udp()
        }]
    );
    assert_eq!(l.len(), 0);
}

#[test]
fn cancel_target_finds_the_invite() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let invite = request(Method::Invite, "z9hG4bKcall", 1);
    let inv_tx = receive(&mut l, &invite, udp(), t0);
    let cancel = request(Method::Cancel, "z9hG4bKcall", 1);
    let cancel_tx = receive(&mut l, &cancel, udp(), t0 + ms(10));
    assert_ne!(cancel_tx, inv_tx);
    assert_eq!(l.cancel_target(&cancel), Some(inv_tx));

    // Different branch or different sent-by: no target.
    assert_eq!(
        l.cancel_target(&request(Method::Cancel, "z9hG4bKother", 1)),
        None
    );
    let mut moved = cancel.clone();
    moved
        .headers
        .set("Via", "SIP/2.0/UDP 10.0.0.6:5062;branch=z9hG4bKcall");
    assert_eq!(l.cancel_target(&moved), None);

    // After the INVITE tx ends there is nothing to cancel.
    l.respond(inv_tx, response(&invite, 487, Some("t")), t0);
    l.handle_input(
        udp(),
        Message::Request(request(Method::Ack, "z9hG4bKcall", 1)),
        t0,
    );
    l.handle_timeout(t0 + ms(6_000));
    assert_eq!(l.cancel_target(&cancel), None);
}

#[test]
fn invite_over_tcp_has_no_retransmissions() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let req = request(Method::Invite, "z9hG4bKtcp", 1);
    let tx = receive(&mut l, &req, tcp(), t0);
    l.respond(tx, response(&req, 486, Some("t")), t0);
    assert_eq!(transmits(&mut l).len(), 1);
    // Only Timer H is armed.
    assert_eq!(l.poll_timeout(), Some(t0 + ms(32_000)));
    l.handle_input(
        tcp(),
        Message::Request(request(Method::Ack, "z9hG4bKtcp", 1)),
        t0 + ms(50),
    );
    assert_eq!(l.len(), 0, "Timer I is zero on TCP");

    let req = request(Method::Invite, "z9hG4bKtcp2", 2);
    let tx = receive(&mut l, &req, tcp(), t0);
    l.respond(tx, response(&req, 200, Some("t")), t0);
    transmits(&mut l);
    let (sent, evs) = run_until(&mut l, t0, ms(60_000));
    assert!(sent.is_empty(), "no 2xx retransmission over TCP");
    assert_eq!(evs, vec![(ms(32_000), Event::AckTimeout { tx })]);
}

#[test]
fn legacy_rfc2543_requests_are_matched() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let req = request(Method::Invite, "oldstyle1", 3);
    let tx = receive(&mut l, &req, udp(), t0);
    l.respond(tx, response(&req, 603, Some("t")), t0);
    transmits(&mut l);
    l.handle_input(udp(), Message::Request(req.clone()), t0 + ms(100));
    assert_eq!(transmits(&mut l).len(), 1, "retransmission recognised");
    assert!(events(&mut l).is_empty());
    let mut ack = request(Method::Ack, "oldstyle1", 3);
    ack.headers.set("To", "<sip:111@pbx.example.com>;tag=t");
    l.handle_input(udp(), Message::Request(ack), t0 + ms(200));
    assert!(events(&mut l).is_empty(), "ACK absorbed by the INVITE tx");
    let (sent, _) = run_until(&mut l, t0, ms(60_000));
    assert!(
        sent.is_empty(),
        "G stopped by the ACK before its first firing"
    );
    assert_eq!(l.len(), 0);
}

#[test]
fn requests_without_via_still_get_a_transaction() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    let mut req = request(Method::Options, "z9hG4bKx", 1);
    req.headers.remove("Via");
    let tx = receive(&mut l, &req, udp(), t0);
    l.respond(tx, Response::for_request(&req, 400, "Missing Via"), t0);
    let sent = transmits(&mut l);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].peer, udp());
    // Unknown tx ids and bogus status codes are ignored.
    l.respond(ServerTxId(999), response(&req, 200, None), t0);
    l.respond(tx, Response::new(99, "x"), t0);
    assert!(transmits(&mut l).is_empty());
}

#[test]
fn odd_requests_and_responses_never_panic() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Config::default());
    for (i, drop) in ["Via", "From", "To", "Call-ID", "CSeq", "Route"]
        .iter()
        .enumerate()
    {
        for method in [Method::Invite, Method::Ack, Method::Cancel, Method::Bye] {
            let mut req = request(method, &format!("z9hG4bKodd{i}"), 1);
            req.headers.remove(drop);
            l.handle_input(udp(), Message::Request(req.clone()), t0);
            let _ = l.cancel_target(&req);
            let mut resp = Response::for_request(&req, 500, "");
            resp.headers.set("CSeq", "not a cseq");
            l.handle_input(udp(), Message::Response(resp), t0);
        }
    }
    for e in events(&mut l) {
        if let Event::Request {
            tx: Some(tx),
            request,
            ..
        } = e
        {
            l.respond(tx, Response::for_request(&request, 400, "Bad"), t0);
        }
    }
    run_until(&mut l, t0, ms(120_000));
    assert_eq!(l.len(), 0, "every transaction eventually ends");
    assert_eq!(l.poll_timeout(), None);
}
