/* rm_constants.h - physical constants and fixed bands every room uses.
 * One definition each, so the recorder, the simulator, the analysis and the
 * report cannot drift apart (a body weight of 9.81 N/kg in one place and
 * 9.80665 in another shows up as a 0.03 % force difference in a test). */
#ifndef RM_CONSTANTS_H
#define RM_CONSTANTS_H

/* Standard gravity, m/s^2 (CGPM 1901): body weight in N = mass in kg * g. */
#define RM_GRAVITY 9.80665

/* Pressure: 1 N/cm^2 = 10 kPa, so force in N = sum(kPa * cm^2) / 10. */
#define RM_KPA_PER_N_CM2 10.0
#define RM_N_CM2_PER_KPA 0.1

/* Lengths: sensel pitches come in mm, positions are reported in cm. */
#define RM_MM_PER_CM 10.0

/* The band the spectral cadence is searched in, Hz: from one cycle in ten
 * minutes (slower is not rolling) to 3 Hz (faster is vibration, not a
 * stroke a person makes with a foam roller). */
#define RM_CADENCE_BAND_LO_HZ (1.0 / 600.0)
#define RM_CADENCE_BAND_HI_HZ 3.0

#endif
