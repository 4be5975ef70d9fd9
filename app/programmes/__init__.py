"""结对: long-term one-to-one programmes (一助一 sponsorship, 云支教 tutoring)."""
