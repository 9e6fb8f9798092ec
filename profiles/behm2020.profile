# rollmat coaching profile (format: docs/metrics.md, "Coaching profiles").
format = rollmat-profile-1
name = behm2020
title = Behm et al. 2020 foam rolling prescription
# Behm DG, Alizadeh S, Hadjizadeh Anvar S, et al. Foam Rolling Prescription:
# A Clinical Commentary. J Strength Cond Res 2020;34(11):3301-3308.
pass_s = 2 4 | Behm et al. 2020: a rolling cadence of 2-4 s per one-way pass (rollmat: one stroke = one pass)
set_s = 30 120 | Behm et al. 2020: 30-120 s of rolling per set (per muscle group)
