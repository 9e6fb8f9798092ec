int rm_analyze_placeholder_(void); int rm_analyze_placeholder_(void){return 0;}
