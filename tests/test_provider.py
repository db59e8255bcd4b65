from ib_futures.provider import get_provider_info


def test_provider_registers_ibkr_connection_type():
    info = get_provider_info()
    assert info["package-name"] == "ib-futures"
    types = {c["connection-type"]: c["hook-class-name"] for c in info["connection-types"]}
    assert types == {"ibkr": "ib_futures.hooks.ib.IBHook"}
