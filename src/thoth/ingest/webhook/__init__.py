"""The public GitLab webhook receiver (design.md §7): a GitLab webhook cannot carry a Google
ID token, so this tiny service takes GitLab's calls in place of the private worker. It checks
GitLab's secret token, keeps only push events for one project and branch, and enqueues one
named Cloud Task per event to the worker's PUSH_PATH. It never reads the bucket and never
calls GitLab.

    event      the Push Hook as GitLab sends it (headers, the payload fields we read)
    target     what this receiver accepts: source, project, branch, secret token
    decision   one event + the target -> a PushTask, or the reason it is ignored
    body       the request body: JSON only, size-capped before it is parsed
    app        the FastAPI app, its answers and its one log line per request
"""
