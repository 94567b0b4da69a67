"""Calls from an IP-authenticated trunk (`spygroup trunk add NAME --host IP:PORT`).

The "carrier" is a pjsua2 account without registration and without credentials,
bound to its own UDP port: the PBX must recognise it by that exact source address
and port, let its INVITE in without a challenge, and ring the registered extension.
"""

import pytest

from test_call import assert_anchored, check_two_way, connect

pytestmark = pytest.mark.needs_pbx


def test_trunk_call_reaches_extension_with_two_way_audio(pbx, ua, make_phone, tones):
    carrier = make_phone("5551234", secret="", server=None, tone=tones[400])
    pbx.cli_live("trunk", "add", "carrier", "--host", f"127.0.0.1:{carrier.port}")
    assert "carrier" in pbx.cli("trunk", "list").stdout
    b = make_phone("102", server=pbx.sip_addr, tone=tones[1000])
    assert b.register() == 200

    offset = ua.log_offset()
    call, leg = connect(ua, carrier, b, number=f"sip:102@{pbx.sip_addr}")
    trace = ua.log_since(offset)
    # IP-authenticated: never challenged
    assert "407 Proxy Authentication Required" not in trace and "SIP/2.0 407" not in trace
    assert 407 not in call.codes, call
    assert_anchored(pbx, call, b)
    assert_anchored(pbx, leg, carrier)
    assert "5551234" in leg.remote_uri, f"102 sees the call from {leg.remote_uri!r}"
    ua.poll(3.8)
    call.end()
    ua.wait_for(lambda: call.disconnected and leg.disconnected, 5, "both legs down")
    check_two_way(call.stop_recording(), leg.stop_recording())


def test_other_port_on_trunk_host_is_not_the_trunk(pbx, ua, make_phone, tones):
    """Same IP as the trunk, another source port: an ordinary unauthenticated
    caller, so the INVITE is challenged (407) and 102 never rings."""
    carrier = make_phone("5551234", secret="", server=None, tone=tones[400])
    pbx.cli_live("trunk", "add", "carrier", "--host", f"127.0.0.1:{carrier.port}")
    intruder = make_phone("5559999", secret="", server=None, tone=tones[400])
    assert intruder.port != carrier.port
    b = make_phone("102", server=pbx.sip_addr, tone=tones[1000])
    assert b.register() == 200

    call = intruder.call(f"sip:102@{pbx.sip_addr}")
    ua.wait_for(lambda: call.disconnected, 10, "the intruder's call to fail")
    assert call.last_code == 407, call
    ua.poll(0.5)
    assert not b.calls, "102 rang for a caller that is neither the trunk nor authenticated"

    # control: the real trunk port still gets through
    ok = carrier.call(f"sip:102@{pbx.sip_addr}")
    leg = b.incoming(timeout=10)
    ua.wait_for(lambda: ok.confirmed and leg.confirmed, 10, "trunk call answered")
    ok.end()
    ua.wait_for(lambda: ok.disconnected and leg.disconnected, 5, "both legs down")
