# The last record: without it the output was cut short (the script stopped at
# an error, or the connection broke).
emit end yes
