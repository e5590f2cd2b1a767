"""Runs test/http tests for the mutation runner: stops at the first failure.

    http_tests.py ITEM...

An ITEM is a module of test/http without its "test_" prefix ("routes" for
test_routes.py), or a test within one ("routes.TestX", "routes.TestX.test_y").
A whole module runs in its own order (its ORDER list first, then any class
left out of it), as scripts/test-http.sh runs it.  The environment is the
one scripts/test-http.sh gives a module (GATEWAY_PORT, GATEWAY_JWT_SECRET,
GATEWAY_DB_URI, ...); test/mutation/run-mutants.sh sets it.

Prints unittest's verbose lines and, on a failure, "first failure: <id>";
exits 1 when anything failed or nothing ran.
"""
import importlib
import inspect
import os
import sys
import unittest

ROOT = os.environ.get("FYNN_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
sys.path.insert(0, os.path.join(ROOT, "test", "http"))


def module_suite(loader, module):
    """The module's classes in its ORDER, then those left out of it, as defined."""
    defined = [obj for obj in vars(module).values()
               if inspect.isclass(obj) and issubclass(obj, unittest.TestCase)
               and obj.__module__ == module.__name__ and loader.getTestCaseNames(obj)]
    cases = list(getattr(module, "ORDER", None) or defined)
    cases += [case for case in defined if case not in cases]
    return unittest.TestSuite(loader.loadTestsFromTestCase(case) for case in cases)


def main(items):
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for item in items:
        name, _, rest = item.partition(".")
        module = importlib.import_module("test_" + name)
        suite.addTest(loader.loadTestsFromName(rest, module) if rest else module_suite(loader, module))
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, failfast=True).run(suite)
    failures = result.failures + result.errors
    if failures:
        print(f"first failure: {failures[0][0].id()}")
    elif result.unexpectedSuccesses:
        print(f"first failure: {result.unexpectedSuccesses[0].id()} (unexpected success)")
    elif result.testsRun == 0:
        print("first failure: no test ran")
    sys.stdout.flush()
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
