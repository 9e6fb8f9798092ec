int rm_acquire_placeholder_(void); int rm_acquire_placeholder_(void){return 0;}
