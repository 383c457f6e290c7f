"""``apimgen simulate --replay LOGS``: the gateway's own logs as the traffic — read from a Log
Analytics export (``export``), turned into consumers' calls (``to_scenario``), and compared call
by call with what the gateway logged (``agreement``)."""
