/*
 * dynamodb.h - the few Amazon DynamoDB operations the two-controller guard
 * needs (awsJson1_0, X-Amz-Target DynamoDB_20120810.<op>): a strongly
 * consistent GetItem, and PutItem / UpdateItem with a ConditionExpression.
 *
 * An item is a small list of named attribute values of type S (string), N
 * (a number; only integers are kept as such, see struct aws_dynamodb_attr)
 * or M (a map, itself an item). Nothing else is decoded: an attribute of
 * another type is skipped, so an item written by a newer controller still
 * reads.
 *
 * Errors as in client.h, and: ConditionalCheckFailedException (a condition
 * did not hold: another writer came first) -> BASE_ECONFLICT, distinct from
 * "no answer" (BASE_ETRANSPORT, BASE_ETIMEDOUT, BASE_ESERVER, BASE_ETHROTTLED
 * for ProvisionedThroughputExceededException, ThrottlingException and
 * RequestLimitExceeded); ResourceNotFoundException (no such table) ->
 * BASE_ENOTFOUND. Conditional writes are sent as not idempotent: a write that
 * may have been applied is not retried after a timeout (a retry would fail its
 * own condition and look like a lost race).
 *
 * Ownership: items own their names and values (aws_dynamodb_item_release);
 * everything passed in is borrowed. Not thread-safe per item; the calls are
 * as thread-safe as the client.
 */
#ifndef AWS_DYNAMODB_H
#define AWS_DYNAMODB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pkg/aws/client.h"

/* Maps nest at most this deep in a decoded item (deeper ones are skipped). */
#define AWS_DYNAMODB_MAX_DEPTH 4

enum aws_dynamodb_type { AWS_DYNAMODB_S = 1, AWS_DYNAMODB_N, AWS_DYNAMODB_M };

struct aws_dynamodb_item;

struct aws_dynamodb_attr {
	char *name;
	enum aws_dynamodb_type type;
	char *s;		     /* S: the string; N: the number's text */
	int64_t n;		     /* N: the value when n_ok */
	int n_ok;		     /* N: the text is an integer that fits int64_t */
	struct aws_dynamodb_item *m; /* M: the map (owned) */
};

struct aws_dynamodb_item {
	struct aws_dynamodb_attr *attrs;
	size_t n, alloc;
};

#define AWS_DYNAMODB_ITEM_INIT                                                                     \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void aws_dynamodb_item_release(struct aws_dynamodb_item *item);
/* Setters replace an attribute of the same name. value is copied. */
void aws_dynamodb_item_set_s(struct aws_dynamodb_item *item, const char *name, const char *value);
void aws_dynamodb_item_set_n(struct aws_dynamodb_item *item, const char *name, int64_t value);
/* An (empty) map attribute to fill; the pointer belongs to item. */
struct aws_dynamodb_item *aws_dynamodb_item_set_m(struct aws_dynamodb_item *item, const char *name);

/* The attribute called name, or NULL. Borrowed from item. */
const struct aws_dynamodb_attr *aws_dynamodb_item_get(const struct aws_dynamodb_item *item,
						      const char *name);
/* The S value of name, NULL when absent or not a string. Borrowed. */
const char *aws_dynamodb_item_s(const struct aws_dynamodb_item *item, const char *name);
/* The integer N value of name, or def when absent, not a number or not an integer. */
int64_t aws_dynamodb_item_n(const struct aws_dynamodb_item *item, const char *name, int64_t def);
/* The M value of name, NULL when absent or not a map. Borrowed. */
const struct aws_dynamodb_item *aws_dynamodb_item_m(const struct aws_dynamodb_item *item,
						    const char *name);

/* The wire form {"name": {"S": ...}, ...} (caller owns the reference). */
json_t *aws_dynamodb_item_encode(const struct aws_dynamodb_item *item);
/*
 * Decodes the wire form (obj borrowed, untrusted) into *out (initialised
 * here). 0, or BASE_EPARSE when obj is not an object (out is then empty).
 */
int aws_dynamodb_item_decode(json_t *obj, struct aws_dynamodb_item *out);

/*
 * A condition for a write: ConditionExpression, and the placeholders it (and
 * an update expression) use. names: NULL-terminated pairs "#e", "epoch", ...;
 * values: ":e" -> value. Any member may be NULL.
 */
struct aws_dynamodb_cond {
	const char *expression;
	const char *const *names;
	const struct aws_dynamodb_item *values;
};

/*
 * GetItem of key in table. *found is 1 with *out the item, 0 (and *out empty)
 * when there is none. consistent: ConsistentRead.
 */
int aws_dynamodb_get_item(struct aws_client *c, const char *region, const char *table,
			  const struct aws_dynamodb_item *key, int consistent,
			  struct aws_dynamodb_item *out, int *found, struct aws_error *err);
/* PutItem of item, if cond (may be NULL) holds. */
int aws_dynamodb_put_item(struct aws_client *c, const char *region, const char *table,
			  const struct aws_dynamodb_item *item,
			  const struct aws_dynamodb_cond *cond, struct aws_error *err);
/* UpdateItem of key with update (an UpdateExpression), if cond (may be NULL) holds. */
int aws_dynamodb_update_item(struct aws_client *c, const char *region, const char *table,
			     const struct aws_dynamodb_item *key, const char *update,
			     const struct aws_dynamodb_cond *cond, struct aws_error *err);

/* Decoder of a GetItem answer (for tests and the fuzz target): as aws_dynamodb_get_item. */
int aws_dynamodb_decode_get_item(json_t *answer, struct aws_dynamodb_item *out, int *found);

#endif
