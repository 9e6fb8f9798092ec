# rollmat coaching profile (format: docs/metrics.md, "Coaching profiles").
# Each band is "LOW HIGH [target T] | source"; a band left out is not judged.
format = rollmat-profile-1
name = guide
title = Running coach's recovery guide (default)
# "Roll slowly, about 1 inch per second." 1 in = 2.54 cm; the band around
# "about" is rollmat's reading (+-40 %), the target is the guide's number.
speed_cm_s = 1.5 3.6 target 2.54 | coaching guide (shared/reference/coaching-guide.txt): "Roll slowly, about 1 inch per second."
hold_s = 20 30 | coaching guide: "When you hit a tender spot, pause and hold pressure for 20-30 seconds."
set_s = 60 120 | coaching guide: "Spend about 1-2 minutes per muscle group"; calves "roll from ankle to knee for 1-2 minutes"
daily_s = 300 600 | coaching guide: "Daily: 5-10 minutes foam rolling after workouts"
# The weekly plan (rollmat history, docs/study.md).
week_sessions = 3 5 | coaching guide: "Foam roll 3-5 times per week, or daily if recovering from heavy sessions."
group_s = 60 120 | coaching guide: "Spend about 1-2 minutes per muscle group"
groups = calves hamstrings quads it_band glutes | coaching guide, "How to Foam Roll Correctly": calves, hamstrings, quads, IT band, glutes
# Self-massage with a ball: "Use massage balls ... on tight spots", "Spend about
# 1-2 minutes per muscle group applying steady pressure". Per spot; the force CV
# band is rollmat's reading of "steady" (breathing alone moves it 2-4 %).
spot_s = 60 120 | coaching guide: "Spend about 1-2 minutes per muscle group applying steady pressure" (massage balls on tight spots)
spot_force_cv = 0 0.15 | rollmat's reading of the coaching guide's "steady pressure": the ball's force varies by at most 15 % (standard deviation / mean)
