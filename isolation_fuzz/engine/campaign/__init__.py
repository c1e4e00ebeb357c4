"""campaign: the search to a budget, its events and its verdict.

What lives here: the orchestrator (``runner``: search, shrink, confirm, assemble) and
the record it returns (``result``), the control the state machine consults after
every rule (``control``), the Hypothesis state machine (``machine``), generated user
ids against the ids a target accepts (``userids``), profiles and the budget resolved
once (``budget``), the events a campaign emits (``events``), the verdict rules
(``verdict``), a finding (``finding``), would plain concurrency have caught it
(``plainly``), and where Hypothesis keeps its examples (``database``).

Who may import it: stress, the reporters, the CLI, the zoo and the pytest plugin;
users reach it through the face (``run_campaign``, ``CampaignConfig``,
``CampaignResult``).  What it imports: ``replay``, ``example``, ``oracle``,
``schedule`` and the ground.  This door re-exports nothing.
"""
