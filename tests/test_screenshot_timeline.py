"""The rule that picks each action's screenshot from the screencast frames (pure logic)."""

from recorder._core import Pick, ScreenshotTimeline


def run_action(timeline: ScreenshotTimeline, sequence: int, call_at: float, ended_at: float,
               guard: float = ScreenshotTimeline.SLACK) -> None:
    timeline.action_started(sequence)
    timeline.call_started(sequence, call_at, guard)
    timeline.action_ended(sequence, ended_at)


def test_first_frame_painted_after_the_action_is_its_screenshot() -> None:
    timeline = ScreenshotTimeline()
    assert timeline.frame(0.5, "before") == []
    run_action(timeline, 1, 1.0, 1.1)
    assert timeline.frame(1.12, "after 1") == [Pick(1, "after 1")]


def test_frame_painted_late_enough_to_show_the_next_action_is_not_used() -> None:
    timeline = ScreenshotTimeline()
    timeline.frame(0.9, "during 1")
    run_action(timeline, 1, 1.0, 1.1)
    timeline.frame(1.05, "mid 1")  # painted during action 1, arrives after it ended
    run_action(timeline, 2, 1.2, 1.3)
    # painted after action 2's call began (+ slack): may show action 2, so action 1 keeps
    # the last frame painted before it ended
    assert timeline.frame(1.25, "shows 2") == [Pick(1, "mid 1")]


def test_frame_painted_just_after_the_next_call_started_still_belongs_to_the_previous_action() -> None:
    timeline = ScreenshotTimeline()
    run_action(timeline, 1, 1.0, 1.1)
    run_action(timeline, 2, 1.2, 1.3)
    assert timeline.frame(1.2 + ScreenshotTimeline.SLACK / 2, "after 1") == [Pick(1, "after 1")]


def test_nothing_painted_after_an_action_means_the_last_frame_before_it() -> None:
    timeline = ScreenshotTimeline()
    timeline.frame(0.5, "steady")
    run_action(timeline, 1, 1.0, 1.1)
    assert timeline.finish() == [Pick(1, "steady")]


def test_finish_gives_the_last_action_the_final_capture() -> None:
    timeline = ScreenshotTimeline()
    timeline.frame(0.5, "old")
    run_action(timeline, 1, 1.0, 1.1)
    run_action(timeline, 2, 1.2, 1.3)
    assert timeline.finish("final") == [Pick(1, "old"), Pick(2, "final")]


def test_a_result_painted_too_late_leaves_a_screenshot_flagged_as_from_before_the_action() -> None:
    timeline = ScreenshotTimeline()
    timeline.frame(0.9, "page loaded")
    run_action(timeline, 1, 1.0, 1.1)  # a fill: its text is painted only at 1.25
    run_action(timeline, 2, 1.2, 1.3)
    assert timeline.frame(1.25, "text and next") == [Pick(1, "page loaded", before_action=True)]


def test_a_frame_painted_while_the_action_ran_is_not_flagged() -> None:
    timeline = ScreenshotTimeline()
    run_action(timeline, 1, 1.0, 1.1)
    timeline.frame(1.05, "mid 1")
    run_action(timeline, 2, 1.2, 1.3)
    assert timeline.frame(1.25, "shows 2") == [Pick(1, "mid 1", before_action=False)]


def test_an_element_click_next_leaves_two_animation_frames_for_the_previous_result() -> None:
    # Playwright's stable check holds a locator click back for two animation frames,
    # so a frame painted within them still shows the previous action alone.
    timeline = ScreenshotTimeline()
    timeline.frame(0.9, "page loaded")
    run_action(timeline, 1, 1.0, 1.1)
    run_action(timeline, 2, 1.2, 1.3, guard=ScreenshotTimeline.STABLE_CHECK)
    assert timeline.frame(1.2 + ScreenshotTimeline.STABLE_CHECK - 0.002, "after 1") == [Pick(1, "after 1")]
