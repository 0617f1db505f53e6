"""The notification jobs on python-telegram-bot's JobQueue (APScheduler): planner, dispatcher.

The scheduler holds only the two periodic triggers; every message and reminder lives in the
database, so a restart loses nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram.ext import Application, ContextTypes

from bot.botapi import JsonRequest
from bot.context import Runtime
from bot.notifications.dispatcher import Dispatcher
from bot.notifications.planner import plan
from bot.notifications.telegram_sender import TelegramSender

log = logging.getLogger(__name__)

PLAN_EVERY = 30.0  # seconds
POLL_EVERY = 1.0  # seconds between looks at an empty outbox
DRAIN_BUDGET = 5.0  # seconds of sending per dispatcher run; the job then reschedules itself

AnyApp = Application[Any, Any, Any, Any, Any, Any]


async def plan_once(runtime: Runtime) -> None:
    """One planner pass; a failure is logged and the next pass tries again."""
    try:
        await plan(db=runtime.db, clock=runtime.clock, translator=runtime.translator)
    except Exception:
        log.exception("planner pass failed")


def schedule(app: AnyApp, runtime: Runtime) -> Dispatcher:
    """Plan at start-up and every PLAN_EVERY seconds; dispatch continuously."""
    settings = runtime.settings
    dispatcher = Dispatcher(
        db=runtime.db,
        sender=TelegramSender(app.bot),
        clock=runtime.clock,
        rate=settings.send_rate,
        quiet=settings.quiet,
        tz=settings.tz,
    )
    request = app.bot.request
    if isinstance(request, JsonRequest):  # replies leave the dispatcher's pace room for them
        request.watch(dispatcher.pacer)
    jobs = app.job_queue
    if jobs is None:
        raise RuntimeError("python-telegram-bot was installed without its job-queue extra")
    started = False

    async def planner_job(_: ContextTypes.DEFAULT_TYPE) -> None:
        await plan_once(runtime)

    async def dispatcher_job(_: ContextTypes.DEFAULT_TYPE) -> None:
        # One run at a time: each run schedules the next, so runs never overlap.
        nonlocal started
        handled = 0
        try:
            if not started:
                await dispatcher.start()
                started = True
            handled = await dispatcher.drain(DRAIN_BUDGET, keep_going=lambda: app.running)
        except Exception:
            log.exception("dispatcher run failed")
        finally:
            # Not once the Application is stopping: the JobQueue waits for this run, then
            # cancels whatever is scheduled, and a run cancelled mid-send is logged as a crash.
            if app.running and jobs.scheduler.running:
                jobs.run_once(dispatcher_job, 0.0 if handled else POLL_EVERY, name="dispatcher")

    previous_init, previous_stop = app.post_init, app.post_stop

    async def post_init(application: AnyApp) -> None:
        if previous_init is not None:
            await previous_init(application)
        await plan_once(runtime)  # at start-up, before any update is handled

    async def post_stop(application: AnyApp) -> None:
        await dispatcher.stop()
        if previous_stop is not None:
            await previous_stop(application)

    app.post_init = post_init
    app.post_stop = post_stop
    jobs.run_repeating(
        planner_job,
        interval=PLAN_EVERY,
        first=PLAN_EVERY,
        name="planner",
        job_kwargs={"max_instances": 1, "coalesce": True},
    )
    jobs.run_once(dispatcher_job, POLL_EVERY, name="dispatcher")
    return dispatcher
