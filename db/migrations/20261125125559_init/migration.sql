CREATE TYPE "participant_role" AS ENUM('HOST', 'CO_HOST', 'SPEAKER', 'LISTENER');--> statement-breakpoint
CREATE TYPE "space_state" AS ENUM('SCHEDULED', 'LIVE', 'ENDED');--> statement-breakpoint
CREATE TYPE "speaker_policy" AS ENUM('EVERYONE', 'FOLLOWING', 'INVITED');--> statement-breakpoint
CREATE TABLE "follows" (
	"follower_id" uuid,
	"followee_id" uuid,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "follows_pkey" PRIMARY KEY("follower_id","followee_id"),
	CONSTRAINT "follows_no_self_follow" CHECK ("follower_id" <> "followee_id")
);
--> statement-breakpoint
CREATE TABLE "participants" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"space_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"role" "participant_role" NOT NULL,
	"muted" boolean DEFAULT true NOT NULL,
	"hand_raised" boolean DEFAULT false NOT NULL,
	"speaking" boolean DEFAULT false NOT NULL,
	"audio_connected" boolean DEFAULT false NOT NULL,
	"joined_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	"left_at" timestamp(3) with time zone
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"user_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp(3) with time zone NOT NULL,
	"revoked_at" timestamp(3) with time zone
);
--> statement-breakpoint
CREATE TABLE "space_bans" (
	"space_id" uuid,
	"user_id" uuid,
	"banned_by" uuid NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "space_bans_pkey" PRIMARY KEY("space_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "spaces" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"host_id" uuid NOT NULL,
	"title" text NOT NULL,
	"state" "space_state" NOT NULL,
	"speaker_policy" "speaker_policy" NOT NULL,
	"scheduled_for" timestamp(3) with time zone,
	"started_at" timestamp(3) with time zone,
	"ended_at" timestamp(3) with time zone,
	"host_away_since" timestamp(3) with time zone,
	"mixer_instance" text,
	"mixer_room" bigint,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "spaces_title_length" CHECK (char_length("title") between 1 and 100)
);
--> statement-breakpoint
CREATE TABLE "speaker_invites" (
	"space_id" uuid,
	"user_id" uuid,
	"invited_by" uuid NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "speaker_invites_pkey" PRIMARY KEY("space_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	"handle" text NOT NULL,
	"display_name" text NOT NULL,
	"password_hash" text NOT NULL,
	"follower_count" integer DEFAULT 0 NOT NULL,
	"following_count" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp(3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_handle_format" CHECK ("handle" ~ '^[A-Za-z0-9_]{3,15}$'),
	CONSTRAINT "users_counts_nonnegative" CHECK ("follower_count" >= 0 and "following_count" >= 0)
);
--> statement-breakpoint
CREATE INDEX "follows_followee_idx" ON "follows" ("followee_id","created_at");--> statement-breakpoint
CREATE INDEX "follows_follower_idx" ON "follows" ("follower_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "participants_space_user_key" ON "participants" ("space_id","user_id");--> statement-breakpoint
CREATE INDEX "participants_present_idx" ON "participants" ("space_id","role") WHERE "left_at" is null;--> statement-breakpoint
CREATE INDEX "participants_user_idx" ON "participants" ("user_id") WHERE "left_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "sessions_token_hash_key" ON "sessions" ("token_hash");--> statement-breakpoint
CREATE INDEX "sessions_user_idx" ON "sessions" ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "spaces_one_live_per_host" ON "spaces" ("host_id") WHERE "state" = 'LIVE';--> statement-breakpoint
CREATE INDEX "spaces_state_idx" ON "spaces" ("state","started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "users_handle_lower_key" ON "users" (lower("handle"));--> statement-breakpoint
ALTER TABLE "follows" ADD CONSTRAINT "follows_follower_id_users_id_fkey" FOREIGN KEY ("follower_id") REFERENCES "users"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "follows" ADD CONSTRAINT "follows_followee_id_users_id_fkey" FOREIGN KEY ("followee_id") REFERENCES "users"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "participants" ADD CONSTRAINT "participants_space_id_spaces_id_fkey" FOREIGN KEY ("space_id") REFERENCES "spaces"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "participants" ADD CONSTRAINT "participants_user_id_users_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_users_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "space_bans" ADD CONSTRAINT "space_bans_space_id_spaces_id_fkey" FOREIGN KEY ("space_id") REFERENCES "spaces"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "space_bans" ADD CONSTRAINT "space_bans_user_id_users_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "space_bans" ADD CONSTRAINT "space_bans_banned_by_users_id_fkey" FOREIGN KEY ("banned_by") REFERENCES "users"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "spaces" ADD CONSTRAINT "spaces_host_id_users_id_fkey" FOREIGN KEY ("host_id") REFERENCES "users"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "speaker_invites" ADD CONSTRAINT "speaker_invites_space_id_spaces_id_fkey" FOREIGN KEY ("space_id") REFERENCES "spaces"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "speaker_invites" ADD CONSTRAINT "speaker_invites_user_id_users_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "speaker_invites" ADD CONSTRAINT "speaker_invites_invited_by_users_id_fkey" FOREIGN KEY ("invited_by") REFERENCES "users"("id") ON DELETE CASCADE;