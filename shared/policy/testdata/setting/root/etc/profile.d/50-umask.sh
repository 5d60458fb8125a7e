# CIS 5.4.3.3
umask 027
