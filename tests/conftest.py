import pytest


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the long regressions marked slow (larger random sets)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long regression: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
