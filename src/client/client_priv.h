/*  client_priv.h — shared by libcodispatch's own files only. */
#ifndef CDC_CLIENT_PRIV_H
#define CDC_CLIENT_PRIV_H

/* Connects sock to every endpoint of a comma-separated list ("tcp://a:7401,tcp://b:7401";
 * blanks around the commas are ignored).  Returns how many endpoints were connected, or -1
 * if one is malformed or the list is empty.  Only the server that holds the database lock
 * binds its sockets, so a DEALER connected to all of a primary's and its standbys' endpoints
 * has one live connection, to whichever is the primary now. */
int cdc__connect_endpoints(void *sock, const char *endpoints);

#endif
