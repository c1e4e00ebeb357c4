"""ChatDesk: the README's "Fuzzing your own system" walkthrough.

``app`` is the application, ``beta`` a regression of it, ``adapter`` the target
factories (``open_target``, ``open_beta_target``), ``test_chatdesk`` its pytest test.
"""
