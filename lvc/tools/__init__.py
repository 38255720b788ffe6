"""Reporting: ``inspect``, ``compare``, figures, panels and the HTML report. They only read streams and
draw; they are leaves that nothing in :mod:`lvc.codec` imports, and they never change decoded bits.
Library functions here take typed arguments and return results; ``lvc.cli`` owns argparse and printing.
"""
