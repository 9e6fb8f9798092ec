int rm_formats_placeholder_(void); int rm_formats_placeholder_(void){return 0;}
