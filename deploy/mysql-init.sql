-- What the binlog source needs from MySQL: read the tables, and read the binlog as a replica would.
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'synchub'@'%';
FLUSH PRIVILEGES;
